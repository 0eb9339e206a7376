#!/usr/bin/env python3
"""Write the SLMTokBench configuration of a recipe (stage 8 of sptok.sh): the recipe's benchmark
YAML (scorers, probe, report options) with the token sources of this recipe filled in.

    scripts/slmtokbench/make_config.py --config conf/slmtokbench.yaml \\
        --out exp/slmtokbench/bench.yaml \\
        --codec speechtokenizer exp/speechtokenizer --codec baseline exp/baseline \\
        --units hubert_km dump/teacher_feats/train/feats.scp dump/teacher_feats/test/feats.scp \\
        --teacher exp/mini_hubert --layer avg --vocoder exp/unit_vocoder

The recipe makes one source per trained tokenizer (kind codec, named by its tag) and, with a
teacher, one of HuBERT k-means units of the teacher features it dumped (kind units). The
``sources`` of the YAML are merged into these by name: an entry named like a recipe source adds
or changes its other keys (label, role, levels, num_units ...), but not the ones the recipe sets
(kind, model, feats, teacher, layer, vocoder); an entry of another name is a source of its own
(e.g. codes brought by the user) and is taken as it is. The table lists the YAML's entries first,
in its order, then the recipe's other sources. The result is checked like
``python -m sptok.bin.slmtokbench`` checks its YAML.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional, Sequence

import yaml

from sptok.slmtokbench import bench_config
from sptok.utils.config import ConfigError, dump_yaml, load_yaml
from sptok.utils.fileio import atomic_open

#: Keys of a recipe source that come from the recipe, not from the YAML.
RECIPE_KEYS = ("kind", "model", "feats", "teacher", "layer", "vocoder")


def recipe_sources(codecs: Sequence[Sequence[str]], units: Optional[Sequence[str]],
                   teacher: Optional[str], layer: Optional[str],
                   vocoder: Optional[str]) -> List[Dict[str, Any]]:
    """The sources the recipe made: ``codecs`` (tag, experiment dir) pairs and optionally
    ``units`` (name, train feats scp, test feats scp)."""
    sources: List[Dict[str, Any]] = [{"name": tag, "label": tag, "kind": "codec", "model": exp}
                                     for tag, exp in codecs]
    if units:
        name, train, test = units
        source: Dict[str, Any] = {"name": name, "label": name, "kind": "units",
                                  "feats": {"train": train, "test": test}}
        if teacher:
            source["teacher"] = teacher
        if layer is not None:
            source["layer"] = yaml.safe_load(layer)  # "avg" or an index
        if vocoder:
            source["vocoder"] = vocoder
        sources.append(source)
    return sources


def merge_sources(recipe: Sequence[Dict[str, Any]], listed: Any,
                  where: str) -> List[Dict[str, Any]]:
    """The YAML's ``listed`` sources merged into the ``recipe`` ones by name (module docstring).

    Raises:
        ConfigError: a listed entry that is not a mapping with a name, a repeated name, or a
            recipe key set for a recipe source.
    """
    if listed is None:
        listed = []
    if not isinstance(listed, list):
        raise ConfigError(f"{where}: sources must be a list of mappings, got {listed!r}")
    by_name = {source["name"]: source for source in recipe}
    merged: List[Dict[str, Any]] = []
    seen: List[str] = []
    for index, entry in enumerate(listed):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(f"{where}: sources[{index}] must be a mapping with a name, got "
                              f"{entry!r}")
        name = entry["name"]
        if name in seen:
            raise ConfigError(f"{where}: sources[{index}]: name '{name}' is listed twice")
        seen.append(name)
        if name in by_name:
            fixed = sorted(set(entry) & set(RECIPE_KEYS))
            if fixed:
                raise ConfigError(f"{where}: sources[{index}] ({name}): {fixed} are set by the "
                                  f"recipe for its source '{name}'; leave them out")
            merged.append({**by_name[name], **entry})
        else:
            merged.append(dict(entry))
    merged += [source for source in recipe if source["name"] not in seen]
    return merged


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="the recipe's benchmark YAML")
    parser.add_argument("--out", required=True, help="benchmark YAML to write")
    parser.add_argument("--codec", nargs=2, action="append", default=[],
                        metavar=("TAG", "EXP_DIR"), help="a trained tokenizer (repeatable)")
    parser.add_argument("--units", nargs=3, default=None,
                        metavar=("NAME", "TRAIN_FEATS_SCP", "TEST_FEATS_SCP"),
                        help="HuBERT k-means units of dumped teacher features")
    parser.add_argument("--teacher", default=None, help="the teacher of --units")
    parser.add_argument("--layer", default=None, help="its layer (avg or an index)")
    parser.add_argument("--vocoder", default=None, help="unit vocoder experiment of --units")
    args = parser.parse_args(argv)
    try:
        config = load_yaml(args.config)
        if not isinstance(config, dict):
            raise ConfigError(f"{args.config}: expected a mapping of benchmark options")
        recipe = recipe_sources(args.codec, args.units, args.teacher, args.layer, args.vocoder)
        config["sources"] = merge_sources(recipe, config.get("sources"), args.config)
        if not config["sources"]:
            raise ConfigError(f"{args.config}: no token source: train a tokenizer (stage 4) or "
                              f"list sources in the YAML")
        # Checked as the benchmark will (its data dirs come on its command line).
        bench_config.resolve(config, [(["data_dir"], "<set by the recipe>")], args.config)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"make_config: error: {exc}", file=sys.stderr)
        return 1
    with atomic_open(args.out) as f:
        f.write(dump_yaml(config))
    print(f"make_config: {args.out}: sources "
          + ", ".join(s["name"] for s in config["sources"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
