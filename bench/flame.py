"""Draws a flame graph of the router's CPU from a `.cpuprofile` (`--cpu-prof` on Bun or Node), and lists
where the time goes: own time per function and per component (the runtime's own modules, grpc-js,
protobuf, pino, the router; native frames without a script are the engine's).

Usage: python3 bench/flame.py PROFILE OUT_DIR   (writes OUT_DIR/flame.png and OUT_DIR/profile.md)
"""
import json
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

# Checked in order: the first component whose marker is in the script URL owns the frame.
COMPONENTS = [
    ("grpc-js", "@grpc/grpc-js", "#ff7f0e"),
    ("protobuf-es", "@bufbuild/protobuf", "#9467bd"),
    ("pino", "/pino", "#2ca02c"),
    ("router", "/dist/", "#d62728"),
    ("runtime", "node:", "#1f77b4"),
    ("runtime", "internal:", "#1f77b4"),
]
OTHER = ("engine / native", "#8c8c8c")
MAX_DEPTH = 48


def component(url):
    for name, marker, colour in COMPONENTS:
        if marker in url:
            return name, colour
    return OTHER


def label(frame):
    name = frame["functionName"] or "(anonymous)"
    url = frame["url"]
    return f"{name} {url.rsplit('/', 1)[-1]}:{frame['lineNumber'] + 1}" if url else name


def self_times(profile):
    """Microseconds of CPU per node id, from the sample stream (each sample lasts until the next)."""
    samples, deltas = profile["samples"], profile["timeDeltas"]
    out = defaultdict(float)
    for i, node_id in enumerate(samples):
        out[node_id] += deltas[i + 1] if i + 1 < len(deltas) else 0
    return out


def merged_tree(profile):
    """The call tree with (idle) left out and equal frames under one parent merged; times in µs."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    own = self_times(profile)

    def build(node_id):
        n = nodes[node_id]
        kids = {}
        for child_id in n.get("children", []):
            child = build(child_id)
            if child is None:
                continue
            key = child["label"]
            if key in kids:
                merge(kids[key], child)
            else:
                kids[key] = child
        self_us = own.get(node_id, 0.0)
        if n["callFrame"]["functionName"] == "(idle)":
            return None
        total = self_us + sum(k["total"] for k in kids.values())
        if total <= 0:
            return None
        return {"label": label(n["callFrame"]), "url": n["callFrame"]["url"], "self": self_us, "total": total, "children": list(kids.values())}

    def merge(a, b):
        a["self"] += b["self"]
        a["total"] += b["total"]
        by_label = {c["label"]: c for c in a["children"]}
        for c in b["children"]:
            if c["label"] in by_label:
                merge(by_label[c["label"]], c)
            else:
                a["children"].append(c)
                by_label[c["label"]] = c

    return build(profile["nodes"][0]["id"])


def draw(root, path):
    fig, ax = plt.subplots(figsize=(18, 10))
    total = root["total"]
    depth_seen = 0

    def place(node, x, depth):
        nonlocal depth_seen
        if depth > MAX_DEPTH:
            return
        width = node["total"] / total
        if width < 0.0008:
            return
        depth_seen = max(depth_seen, depth)
        _, colour = component(node["url"])
        ax.add_patch(plt.Rectangle((x, depth), width, 0.95, facecolor=colour, edgecolor="white", linewidth=0.3))
        if width > 0.025:
            chars = int(width * 210)
            text = node["label"] if len(node["label"]) <= chars else node["label"][: max(chars - 1, 1)] + "…"
            ax.text(x + 0.002, depth + 0.47, text, va="center", ha="left", fontsize=6.5, clip_on=True)
        cx = x
        for child in sorted(node["children"], key=lambda c: -c["total"]):
            place(child, cx, depth + 1)
            cx += child["total"] / total

    place(root, 0.0, 0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, depth_seen + 1)
    ax.set_yticks([])
    ax.set_xlabel("share of the router's busy CPU time (idle left out)")
    ax.set_title(f"Router CPU flame graph: {total / 1e6:.1f} s of CPU sampled")
    legend = [Patch(facecolor=c, label=n) for n, _, c in COMPONENTS] + [Patch(facecolor=OTHER[1], label=OTHER[0])]
    ax.legend(handles=legend, loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def summary(root):
    by_function = defaultdict(float)
    by_component = defaultdict(float)

    def walk(node):
        by_function[(node["label"], component(node["url"])[0])] += node["self"]
        by_component[component(node["url"])[0]] += node["self"]
        for c in node["children"]:
            walk(c)

    walk(root)
    total = root["total"]
    lines = ["| component | share of busy CPU |", "|---|---|"]
    for name, us in sorted(by_component.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {100 * us / total:.1f}% |")
    lines += ["", "| function (own time) | component | share |", "|---|---|---|"]
    for (name, comp), us in sorted(by_function.items(), key=lambda kv: -kv[1])[:25]:
        lines.append(f"| `{name}` | {comp} | {100 * us / total:.1f}% |")
    return "\n".join(lines) + "\n"


def main():
    profile = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    root = merged_tree(profile)
    draw(root, out / "flame.png")
    (out / "profile.md").write_text(summary(root))
    print(f"flame graph: {out / 'flame.png'}, top functions: {out / 'profile.md'}")


if __name__ == "__main__":
    main()
