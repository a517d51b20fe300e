#!/usr/bin/env python3
"""
Kubernetes JSON schemas for kubeconform, offline.

kubeconform normally downloads its schemas from GitHub, which CI cannot reach. The PyPI package
`kubernetes-validate` ships the same schemas (generated from Kubernetes' OpenAPI spec), one
file per kind plus a shared `_definitions.json` referenced by absolute `$ref`s that a local
validator cannot follow. This script turns them into kubeconform's "standalone" layout: each
kind's schema with the definitions it reaches copied into its own `$defs`, and the references
rewritten to point there.

    k8s-schemas.py WHEEL KUBERNETES_VERSION OUT_DIR
    # writes OUT_DIR/v<version>-standalone-strict/<kind>-<group>-<version>.json
"""
import json
import os
import sys
import zipfile

ABSOLUTE_REF = "/api/_definitions.json#/$defs/"
LOCAL_REF = "#/$defs/"


def references(node):
    """Every definition name a schema node refers to."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            for prefix in (ABSOLUTE_REF, LOCAL_REF):
                if ref.startswith(prefix):
                    yield ref[len(prefix):]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def localise(node):
    """The same schema with absolute definition references made local."""
    if isinstance(node, dict):
        out = {key: localise(value) for key, value in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(ABSOLUTE_REF):
            out["$ref"] = LOCAL_REF + ref[len(ABSOLUTE_REF):]
        return out
    if isinstance(node, list):
        return [localise(value) for value in node]
    return node


def main(wheel, version, out_dir):
    source = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
    target = os.path.join(out_dir, f"v{version}-standalone-strict")
    os.makedirs(target, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if n.startswith(source) and n.endswith(".json")]
        if not names:
            sys.exit(f"{wheel} has no schemas for Kubernetes {version}")
        definitions = json.loads(archive.read(source + "_definitions.json"))["$defs"]
        written = 0
        for name in names:
            filename = name[len(source):]
            if filename in ("_definitions.json", "all.json"):
                continue
            schema = json.loads(archive.read(name))
            # Definitions reachable from this kind, transitively.
            needed, queue = set(), list(references(schema))
            while queue:
                definition = queue.pop()
                if definition in needed or definition not in definitions:
                    continue
                needed.add(definition)
                queue.extend(references(definitions[definition]))
            schema = localise(schema)
            # The $id points at kubernetes.io; the validator would resolve references there.
            schema.pop("$id", None)
            if needed:
                schema["$defs"] = {d: localise(definitions[d]) for d in sorted(needed)}
            with open(os.path.join(target, filename), "w") as handle:
                json.dump(schema, handle, separators=(",", ":"))
            written += 1
    print(f"k8s-schemas: {written} schemas for Kubernetes {version} in {target}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
