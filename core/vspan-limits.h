/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Domain XML is tens of KiB; 10,000 interfaces are ~3 MiB.  Anything beyond
 * this is not a domain or a config and is refused before parsing. */
#define VSPAN_XML_MAX_BYTES (16u * 1024u * 1024u)

/* A message vspan prints or logs is one line of at most this many
 * characters: values from XML are echoed escaped and clipped. */
#define VSPAN_MESSAGE_MAX 2048u
