"""A pure-Python rendering of the kustomize features deploy/kubernetes uses (no kubectl needed).

Supported: resources (files and directories), namespace, labels (metadata only), images
(newName/newTag) and patches by path (strategic merge: maps merge, named lists merge by name,
other lists are replaced). test_kubernetes.py compares it with `kubectl kustomize` when present.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def kustomization(directory: Path) -> Doc:
    """The kustomization.yaml of DIRECTORY."""
    doc: Doc = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return doc


def listed_files(directory: Path) -> list[Path]:
    """Every path a kustomization names (resources and patches), relative ones resolved."""
    k = kustomization(directory)
    names = [*k.get("resources", []), *(p["path"] for p in k.get("patches", []))]
    return [(directory / name).resolve() for name in names]


def load_docs(path: Path) -> list[Doc]:
    """The non-empty YAML documents of PATH."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def merge(base: Any, patch: Any) -> Any:
    """PATCH merged into BASE the strategic-merge way for the cases used here."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in [*base, *patch])
    ):
        by_name = {item["name"]: item for item in base}
        merged = [merge(by_name[i["name"]], i) if i["name"] in by_name else i for i in patch]
        patched = {i["name"] for i in patch}
        return [*merged, *(i for i in base if i["name"] not in patched)]
    return copy.deepcopy(patch)


def _key(doc: Doc) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def render(directory: Path) -> list[Doc]:
    """The resources DIRECTORY's kustomization produces."""
    k = kustomization(directory)
    docs: list[Doc] = []
    for name in k.get("resources", []):
        path = (directory / name).resolve()
        docs += render(path) if path.is_dir() else load_docs(path)
    for patch_ref in k.get("patches", []):
        for patch in load_docs(directory / patch_ref["path"]):
            (index,) = [i for i, d in enumerate(docs) if _key(d) == _key(patch)]
            docs[index] = merge(docs[index], patch)
    for entry in k.get("labels", []):
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(entry["pairs"])
    for image in k.get("images", []):
        for doc in docs:
            for container in _containers(doc):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    new = image.get("newName", name)
                    container["image"] = f"{new}:{image.get('newTag', tag)}"
    if "namespace" in k:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = k["namespace"]
    return docs


def _containers(doc: Doc) -> list[Doc]:
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    containers: list[Doc] = [*pod.get("containers", []), *pod.get("initContainers", [])]
    return containers
