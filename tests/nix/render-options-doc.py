#!/usr/bin/env python3
"""Renders docs/nixos-options.md from the option list that
tests/nix/eval-module.nix takes from the module (lib.optionAttrSetToDocList,
the list nixosOptionsDoc renders too)."""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def anchor(name):
    return re.sub(r"[^a-z0-9-]", "", name.lower().replace(" ", "-"))


def markup(text):
    """NixOS' Markdown roles as plain Markdown: {option} links to the
    option's heading, {manpage} stays the page's name."""
    text = re.sub(r"\{option\}`([^`]+)`", lambda m: f"[`{m.group(1)}`](#{anchor(m.group(1))})", text)
    return re.sub(r"\{manpage\}`([^`]+)`", r"`\1`", text)


def value(v):
    if isinstance(v, dict) and v.get("_type") in ("literalExpression", "literalMD"):
        return v["text"]
    return json.dumps(v)


def block(text):
    text = text.strip("\n")
    if "\n" in text:
        return f"\n```nix\n{text}\n```\n"
    return f" `{text}`\n"


def main(path):
    options = sorted(json.load(open(path)), key=lambda o: o["loc"])
    out = [
        "# NixOS options of services.govnode",
        "",
        "<!-- Generated from nixos/module.nix by `tests/nix/check.sh --write-options-doc`;",
        "     tests/nix/check.sh fails when it is out of date. The flake builds the same",
        "     reference with nixosOptionsDoc: nix build .#nixos-options-doc -->",
        "",
        "How to install and run the module: [operations.md](operations.md#install-on-nixos).",
        "",
    ]
    for o in options:
        out.append(f"## {o['name']}")
        out.append("")
        desc = markup((o.get("description") or "").strip())
        if desc:
            out.append(desc)
            out.append("")
        out.append(f"*Type:* {o['type']}")
        out.append("")
        if "default" in o:
            out.append("*Default:*" + block(value(o["default"])))
        if "example" in o:
            out.append("*Example:*" + block(value(o["example"])))
        decls = [d if isinstance(d, str) else d.get("name", "") for d in o.get("declarations", [])]
        # Paths relative to the repository, wherever it is checked out.
        decls = [os.path.relpath(d, ROOT) if os.path.isabs(d) else d for d in decls]
        if decls:
            out.append("*Declared in:* " + ", ".join(f"`{d}`" for d in sorted(set(decls))))
            out.append("")
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
