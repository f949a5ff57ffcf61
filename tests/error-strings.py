#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Lists every message vspan's product code can print as an error or
# warning, and checks that docs/admin-guide.md's troubleshooting table
# has a row for each.
#
#   tests/error-strings.py SRCDIR           list the messages
#   tests/error-strings.py --check SRCDIR   exit 1 naming each missing one
#
# Messages are the format strings handed to the calls below; a
# conversion (%s, %u, "%" G_GUINT64_FORMAT, ...) becomes "{}".  In the
# table, a placeholder is written "{name}" and compares equal to "{}".

import os
import re
import sys

# function -> 1-based index of its format argument
CALLS = {
    "g_set_error": 4,
    "g_set_error_literal": 4,
    "g_prefix_error": 2,
    "vspan_nl_set_error": 4,
    "vspan_plan_error": 2,
    "vspan_plan_warning": 2,
    "vspanctl_usage_error": 2,
    "g_printerr": 1,
    "g_warning": 1,
    "vspan_log_warning": 2,
    "fprintf": 2,
    "add": 4,
}
PROGRAM_PREFIX = re.compile(r"^(vspan|vspand|vspanctl): ")
CONVERSION = re.compile(r"%[-+ #0']*(\*|[0-9]+)?(\.(\*|[0-9]+))?(hh|h|ll|l|z|j|t|L)?[diouxXeEfgGcsp]")
PRODUCT_DIRS = ("core", "xml", "agent/host", "agent/plan", "agent/daemon", "agent/cli", "hooks")


def string_end(text, i):
    """Index just past the string or char literal opening at text[i]."""
    j = i + 1
    while j < len(text) and text[j] != text[i]:
        j += 2 if text[j] == "\\" else 1
    return j + 1


def strip_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text[i] in "\"'":
            j = string_end(text, i)
            out.append(text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def split_args(text, start):
    """Arguments of the call whose '(' is at start, as source strings."""
    args, depth, i, cur = [], 0, start + 1, []
    while i < len(text):
        c = text[i]
        if c in "\"'":
            j = string_end(text, i)
            cur.append(text[i:j])
            i = j
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append("".join(cur).strip())
                return args
            depth -= 1
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    return None


def unescape(s):
    return (s.replace("\\\"", "\"").replace("\\n", "\n").replace("\\t", "\t")
            .replace("\\\\", "\\"))


def literal_format(arg):
    """The format string of a literal argument, or None if not literal."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|([A-Za-z_][A-Za-z_0-9]*)|(\S)', arg)
    if not parts or not parts[0][0] and not arg.lstrip().startswith('"'):
        return None
    out = ""
    for lit, ident, other in parts:
        if other:
            return None
        if ident:
            # "%" G_GUINT64_FORMAT is one conversion; a bare macro is text
            out = out + "d" if out.endswith("%") else out + "%s"
        else:
            out += unescape(lit)
    return out


def normalise(fmt):
    fmt = fmt.replace("%%", "\0")
    fmt = CONVERSION.sub("{}", fmt).replace("\0", "%")
    fmt = fmt.strip()
    return PROGRAM_PREFIX.sub("", fmt)


def is_passthrough(msg):
    return re.sub(r"\{\}|[^A-Za-z]", "", msg) == ""


def messages(srcdir):
    found = {}
    for d in PRODUCT_DIRS:
        for name in sorted(os.listdir(os.path.join(srcdir, d))):
            if not name.endswith(".c"):
                continue
            path = os.path.join(srcdir, d, name)
            with open(path, encoding="utf-8") as f:
                text = strip_comments(f.read())
            for m in re.finditer(r"\b([A-Za-z_][A-Za-z_0-9]*)\s*\(", text):
                fn = m.group(1)
                if fn not in CALLS:
                    continue
                args = split_args(text, m.end() - 1)
                if not args or len(args) < CALLS[fn]:
                    continue
                if fn == "fprintf" and args[0] != "stderr":
                    continue
                if fn == "add" and not re.search(r"FAIL|WARN", args[1]):
                    continue
                fmt = literal_format(args[CALLS[fn] - 1])
                if fmt is None:
                    continue
                msg = normalise(fmt)
                if not msg or is_passthrough(msg) or msg.startswith("usage:"):
                    continue
                line = text.count("\n", 0, m.start()) + 1
                found.setdefault(msg, "%s/%s:%d" % (d, name, line))
    return found


def documented(srcdir):
    path = os.path.join(srcdir, "docs", "admin-guide.md")
    rows = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\|\s*`((?:[^`])+)`\s*\|", line)
            if not m:
                continue
            msg = m.group(1).replace("\\|", "|")
            rows.add(normalise(re.sub(r"\{[^}]*\}", "{}", msg)))
    return rows


def main(argv):
    check = "--check" in argv
    args = [a for a in argv[1:] if a != "--check"]
    srcdir = args[0] if args else "."
    found = messages(srcdir)
    if not check:
        for msg, where in sorted(found.items(), key=lambda kv: kv[1]):
            print("%s\t%s" % (where, msg))
        return 0
    rows = documented(srcdir)
    missing = [(w, m) for m, w in found.items() if m not in rows]
    for where, msg in sorted(missing):
        print("%s: not in docs/admin-guide.md's troubleshooting table: `%s`" % (where, msg))
    stale = sorted(rows - set(found))
    for msg in stale:
        print("docs/admin-guide.md: the table lists a message the code no longer prints: `%s`" % msg)
    print("%d messages, %d documented, %d missing, %d stale"
          % (len(found), len(found) - len(missing), len(missing), len(stale)))
    return 1 if missing or stale or len(found) < 50 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
