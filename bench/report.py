"""Tables and the latency-against-load plot of a bench run."""

from __future__ import annotations


def fmt(value, digits=0):
    return "-" if value is None else f"{value:.{digits}f}"


HEADER = ("| phase | offered/s | accepted/s | errors | POST p50 | POST p95 | POST p99 "
          "| confirmed/s | placed->CONFIRMED p50 | p99 |")


def row(p: dict) -> str:
    return (f"| {p['phase']} | {fmt(p['offered_per_s'])} | {fmt(p['accepted_per_s'], 1)} | "
            f"{p['errors']} | {fmt(p['post_p50_ms'], 1)} ms | {fmt(p['post_p95_ms'], 1)} ms | "
            f"{fmt(p['post_p99_ms'], 1)} ms | {fmt(p['confirmed_per_s'], 1)} | "
            f"{fmt(p['confirm_p50_ms'])} ms | {fmt(p['confirm_p99_ms'])} ms |")


def markdown(results: dict) -> str:
    base, products = results["baselines"], results["get_products"]
    lines = [f"Bench run {results['when']} {results['label']}".rstrip(), "",
             f"Machine: {results['machine']['cpus']} CPUs, Python "
             f"{results['machine']['python']}, processes "
             f"{results['machine']['processes']}", "",
             HEADER, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [row(p) for p in results["phases"]]
    lines += ["", "CPU ms per accepted order, by process:", "",
              "| phase | " + " | ".join(sorted(results["phases"][0]["cpu_ms_per_order"]))
              + " | all |",
              "|---|" + "---:|" * (len(results["phases"][0]["cpu_ms_per_order"]) + 1)]
    for p in results["phases"]:
        cpu = p["cpu_ms_per_order"]
        lines.append(f"| {p['phase']} | " + " | ".join(fmt(cpu[k], 1) for k in sorted(cpu))
                     + f" | {fmt(sum(v for v in cpu.values() if v is not None), 1)} |")
    lines += ["",
              f"GET /products: {products['per_s']:.0f} req/s with {products['clients']} "
              f"clients (p50 {products['p50_ms']:.1f} ms, p99 {products['p99_ms']:.1f} ms, "
              f"{products['errors']} errors; client: {products.get('tool', 'python')})", "",
              f"Baselines: bare nameko RPC round trip {base['rpc']['per_s']:.0f} calls/s "
              f"sequential (p50 {base['rpc']['p50_ms']:.2f} ms); bare event hop "
              f"{base['event_hop']['per_s']:.0f} events/s (p50 {base['event_hop']['p50_ms']:.1f} "
              f"ms one way)", "",
              f"Invariant checker: {len(results['checker']['violations'])} violations "
              f"({results['checker']['counts']})"]
    return "\n".join(lines) + "\n"


def plot(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fixed = [p for p in results["phases"] if p["offered_per_s"]]
    rates = [p["offered_per_s"] for p in fixed]
    fig, axis = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, label in (("post_p50_ms", "POST /orders p50"), ("post_p99_ms", "POST /orders p99"),
                       ("confirm_p50_ms", "placed -> CONFIRMED p50"),
                       ("confirm_p99_ms", "placed -> CONFIRMED p99")):
        axis.plot(rates, [p[key] for p in fixed], marker="o", label=label)
    axis.set_xlabel("offered orders/s")
    axis.set_ylabel("latency (ms)")
    axis.set_yscale("log")
    axis.set_title("Order latency against load (2-core machine, everything on it)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
