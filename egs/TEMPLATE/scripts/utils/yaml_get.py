#!/usr/bin/env python3
"""Print one value of a YAML file: a dotted key path, e.g. quantizer_conf.codebook_size.

    scripts/utils/yaml_get.py exp/speechtokenizer/config.yaml quantizer_conf.codebook_size
    python -m sptok.bin.train --config X --print_config | scripts/utils/yaml_get.py - teacher

FILE "-" reads standard input. Scalars print as YAML writes them (null, true, 1024, text);
lists and mappings as one line of flow YAML. A missing key or a non-mapping on the path is an
error naming the file and the key, unless --default is given (printed instead).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, List, Optional

import yaml


def lookup(data: Any, path: str) -> Any:
    """The value at the dotted ``path`` of ``data``; KeyError naming the missing part."""
    value = data
    for depth, part in enumerate(path.split(".")):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(".".join(path.split(".")[:depth + 1]))
        value = value[part]
    return value


def format_value(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30).strip()
    # a bare scalar is dumped as a document with an explicit end marker
    return text[:-3].strip() if text.endswith("...") else text


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="YAML file, or - for standard input")
    parser.add_argument("key", help="dotted key path")
    parser.add_argument("--default", help="printed when the key is missing")
    args = parser.parse_args(argv)
    name = "<stdin>" if args.file == "-" else args.file
    try:
        if args.file == "-":
            data = yaml.safe_load(sys.stdin)
        else:
            with open(args.file, encoding="utf-8") as f:
                data = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as exc:
        print(f"yaml_get: error: {name}: {exc}", file=sys.stderr)
        return 1
    try:
        value = lookup(data, args.key)
    except KeyError as exc:
        if args.default is not None:
            print(args.default)
            return 0
        print(f"yaml_get: error: {name}: no key {exc.args[0]}", file=sys.stderr)
        return 1
    print(format_value(value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
