"""Draws the benchmark charts from results.json: added latency and throughput per gateway.

Usage: python3 bench/charts.py RESULTS_DIR   (needs matplotlib; `npm run bench` installs it into bench/.tools/python)
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"plain": "#888888", "router": "#1f77b4", "portkey": "#ff7f0e", "litellm": "#2ca02c"}


def closed(summaries, workload):
    rows = [s for s in summaries if s["kind"] == "closed" and s["workload"] == workload]
    return sorted(rows, key=lambda s: s["concurrency"])


def gateways(summaries):
    names = []
    for s in summaries:
        for name in s["targets"]:
            if name != "plain" and name not in names:
                names.append(name)
    return names


WORKLOADS = ["chat-1k", "chat-100k", "stream-50"]


def per_workload(results, out, filename, draw):
    """One panel per workload over closed-loop concurrency; `draw(ax, rows, summaries)` fills it."""
    summaries = results["summaries"]
    fig, axes = plt.subplots(1, len(WORKLOADS), figsize=(15, 4.5))
    for ax, workload in zip(axes, WORKLOADS):
        draw(ax, workload, closed(summaries, workload), summaries)
        ax.set_xlabel("closed-loop concurrency")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / filename, dpi=110)


def draw_latency(ax, workload, rows, summaries):
    xs = [str(r["concurrency"]) for r in rows]
    for name in gateways(summaries):
        for pct, style in (("addedP50", "-"), ("addedP99", "--")):
            ys = [r["targets"][name][pct]["median"] if name in r["targets"] and r["targets"][name]["failures"] == 0 else None for r in rows]
            if any(y is not None for y in ys):
                ax.plot(xs, [y if y is not None else float("nan") for y in ys], style, marker="o", color=COLOURS.get(name), label=f"{name} {pct[5:]}")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_title(f"{workload}: added latency over plain Envoy")
    ax.set_ylabel("ms (symlog)")
    ax.grid(True, alpha=0.3)


def draw_throughput(ax, workload, rows, summaries):
    xs = [str(r["concurrency"]) for r in rows]
    names = ["plain"] + gateways(summaries)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        ys = [r["targets"][name]["throughput"] if name in r["targets"] else 0 for r in rows]
        ax.bar([j + i * width for j in range(len(xs))], ys, width, color=COLOURS.get(name), label=name)
    ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(xs))], xs)
    ax.set_title(f"{workload}: throughput")
    ax.set_ylabel("requests/s")
    ax.grid(True, axis="y", alpha=0.3)


def main():
    out = Path(sys.argv[1])
    results = json.loads((out / "results.json").read_text())
    per_workload(results, out, "latency.png", draw_latency)
    per_workload(results, out, "throughput.png", draw_throughput)
    print(f"charts: {out / 'latency.png'}, {out / 'throughput.png'}")


if __name__ == "__main__":
    main()
