"""The drift benchmark's report: the markdown tables run.py prints and writes to RESULTS.md
(results, ratios, the issue's targets, the independent check, per-column margins)."""

import os
import platform
import statistics
from pathlib import Path

LABELS = {
    "ours": "ours (profile + compare)",
    "ours-job": "ours, job only (stored profile + compare)",
    "evidently": "Evidently DataDriftPreset, defaults",
    "evidently-psi": "Evidently DataDriftPreset(method='psi')",
    "nannyml": "NannyML UnivariateDriftCalculator",
}


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def short(names: list, limit: int = 8) -> str:
    if not names:
        return "none"
    return ", ".join(names) if len(names) <= limit else f"{len(names)}: " + ", ".join(names[:limit]) + ", ..."


def results_table(results: dict, truth_by_size: dict) -> str:
    lines = [
        (
            "| rows | tool | passes | wall s (median) | CPU s | peak MB (process) | peak MB during drift "
            "| data MB | flagged | missed shifted | false alarms |"
        ),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for rows, per_tool in results.items():
        n_shifted = len(truth_by_size[rows]["shifted"])
        for tool, s in per_tool.items():
            lines.append(
                f"| {rows:,} | {LABELS[tool]} | {s['passes']} | {fmt(s['wall_s'], 2)} | {fmt(s['cpu_s'], 2)} "
                f"| {fmt(s['peak_mb'], 0)} | {fmt(s['drift_peak_mb'], 0)} | {fmt(s['data_mb'], 0)} "
                f"| {len(s['flagged'])} | {len(s['missed'])}/{n_shifted}: {short(s['missed'])} "
                f"| {short(s['false_alarms'])} |"
            )
    return "\n".join(lines)


def ratio_table(results: dict) -> str:
    lines = [
        (
            "| rows | against | wall time, theirs / ours | CPU time, theirs / ours | peak MB, ours / theirs "
            "| drift-phase peak MB, ours / theirs | drift-phase MB above data, ours / theirs |"
        ),
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for rows, per_tool in results.items():
        ours = per_tool.get("ours")
        if not ours:
            continue
        for tool, s in per_tool.items():
            if tool.startswith("ours"):
                continue
            above_ours = ours["drift_peak_mb"] - ours["data_mb"]
            above_theirs = s["drift_peak_mb"] - s["data_mb"]
            lines.append(
                f"| {rows:,} | {LABELS[tool]} | {s['wall_s'] / ours['wall_s']:.1f}x | {s['cpu_s'] / ours['cpu_s']:.1f}x "
                f"| {ours['peak_mb'] / s['peak_mb']:.3f} | {ours['drift_peak_mb'] / s['drift_peak_mb']:.3f} "
                f"| {above_ours / max(above_theirs, 1e-9):.2f} |"
            )
    return "\n".join(lines)


def passes_table(raw: dict) -> str:
    """Every pass, in the order run: each tool's numbers and, for a peer, the ratios to ours'
    pass of the same round (the passes alternate, so a round ran at about the same time)."""
    lines = [
        "| rows | round | tool | wall s | CPU s | peak MB (process) | peak MB during drift | data MB "
        "| wall, theirs / ours | peak MB, ours / theirs |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rows, per_tool in raw.items():
        ours = per_tool.get("ours") or []
        for i in range(max(len(p) for p in per_tool.values())):
            for tool, passes in per_tool.items():
                if i >= len(passes):
                    continue
                p = passes[i]
                wall_ratio = mem_ratio = "-"
                if not tool.startswith("ours") and i < len(ours):
                    wall_ratio = f"{p['compute_s'] / ours[i]['compute_s']:.1f}x"
                    mem_ratio = f"{ours[i]['process_maxrss_mb'] / p['process_maxrss_mb']:.3f}"
                lines.append(
                    f"| {rows:,} | {i + 1} | {LABELS[tool]} | {p['compute_s']:.2f} | {p['compute_cpu_s']:.2f} "
                    f"| {p['process_maxrss_mb']:.0f} | {p['compute_peak_mb']:.0f} | {p['data_mb']:.0f} "
                    f"| {wall_ratio} | {mem_ratio} |"
                )
    return "\n".join(lines)


def check_table(checks: dict) -> str:
    names = sorted({k for c in checks.values() if c for k in c["max_abs_diff"]})
    lines = ["| rows | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for rows, check in checks.items():
        if not check:
            continue
        cells = []
        for k in names:
            d = check["max_abs_diff"].get(k)
            cells.append("-" if d is None else f"{d['max']:.2g} ({d['column']})")
        lines.append(f"| {rows:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scipy_table(checks: dict) -> str:
    """Ours against scipy's own functions on the full columns (independent.py): per measure,
    the largest difference (and its column) and the median over the columns."""
    lines = ["| rows | measure | columns | largest \\|ours - scipy\\| (column) | median over the columns |",
             "|---:|---|---:|---|---:|"]
    for rows, check in checks.items():
        scipy_check = (check or {}).get("scipy")
        if not scipy_check:
            continue
        for measure, worst in scipy_check["max_abs_diff"].items():
            columns = scipy_check["per_column"].values()
            values = sorted(c["abs_diff"][measure] for c in columns if measure in c["abs_diff"])
            lines.append(
                f"| {rows:,} | {measure} | {len(values)} | {worst['max']:.3g} ({worst['column']}) "
                f"| {statistics.median(values):.3g} |"
            )
    return "\n".join(lines) if len(lines) > 2 else "(not run)"


def sample_ks_gap(check: dict) -> tuple[float, str]:
    """Largest |KS on the 10,000-value profile sample - KS on the full reference| (information)."""
    worst = (0.0, "")
    for name, col in check["per_column"].items():
        e = col["expected"]
        if "ks_stat_full_reference" in e:
            gap = abs(e["ks_stat"] - e["ks_stat_full_reference"])
            worst = max(worst, (gap, name))
    return worst


def verdict(results: dict) -> list:
    lines = []
    largest = max(results)
    per_tool = results[largest]
    ours, ev = per_tool.get("ours"), per_tool.get("evidently")
    if ours:
        ok = not ours["missed"] and not ours["false_alarms"]
        lines.append(
            f"- every shifted column flagged and no unshifted one ({largest:,} rows): "
            f"{'yes' if ok else 'NO'} (missed {short(ours['missed'])}; false alarms {short(ours['false_alarms'])})"
        )
    if ours and ev:
        wall, cpu = ev["wall_s"] / ours["wall_s"], ev["cpu_s"] / ours["cpu_s"]
        lines.append(
            f"- at least 20x faster than Evidently's defaults at {largest:,} rows: "
            f"{'yes' if wall >= 20 else 'NO'} on wall time ({wall:.1f}x), {'yes' if cpu >= 20 else 'NO'} "
            f"on CPU time ({cpu:.1f}x)"
        )
        mem, drift_mem = ours["peak_mb"] / ev["peak_mb"], ours["drift_peak_mb"] / ev["drift_peak_mb"]
        lines.append(
            f"- at most a quarter of Evidently's memory at {largest:,} rows: "
            f"{'yes' if mem <= 0.25 else 'NO'} on the process peak ({ours['peak_mb']:.0f} / {ev['peak_mb']:.0f} MB "
            f"= {mem:.3f}); {'yes' if drift_mem <= 0.25 else 'NO'} on the drift-phase peak ({drift_mem:.3f})"
        )
    return lines


def margins_table(rows: int, raw: dict, truth: dict) -> str:
    """Per shifted column, each tool's own numbers against its thresholds; last line: the largest
    value over the unshifted columns (the noise level each threshold has to clear)."""
    first = {tool: passes[0] for tool, passes in raw.items() if passes}

    def ours(col):
        r = first["ours"]["scores"].get(col) or {}
        w = r.get("wasserstein_std")
        return (
            f"{r.get('severity')}: PSI {fmt(r.get('psi'), 3)}, W/std {fmt(w, 3)}, "
            f"KS {fmt(r.get('ks_stat'), 3)}, JS {fmt(r.get('js'), 3)}"
        )

    def evid(tool, col):
        return fmt(first[tool]["scores"].get(col), 3)

    def nml(col):
        r = first["nannyml"]["scores"].get(col) or {}
        parts = []
        for m, label in (("kolmogorov_smirnov", "KS"), ("chi2", "chi2"), ("jensen_shannon", "JS")):
            if m in r:
                limit = r.get(f"{m}_upper_threshold")
                parts.append(f"{label} {fmt(r[m], 3)}" + (f" (> {fmt(limit, 3)})" if limit is not None else ""))
        return ", ".join(parts)

    cols = [c for c in ("ours", "evidently", "evidently-psi", "nannyml") if c in first]
    heads = {
        "ours": "ours: severity, statistics",
        "evidently": "Evidently default (W/std or JS >= 0.1)",
        "evidently-psi": "Evidently PSI (>= 0.1)",
        "nannyml": "NannyML (alert above)",
    }
    lines = ["| column | " + " | ".join(heads[c] for c in cols) + " |", "|---|" + "---|" * len(cols)]
    cell = {
        "ours": ours,
        "evidently": lambda c: evid("evidently", c),
        "evidently-psi": lambda c: evid("evidently-psi", c),
    }
    cell["nannyml"] = nml
    for col in truth["shifted"]:
        lines.append(f"| `{col}` | " + " | ".join(cell[c](col) for c in cols) + " |")
    noise = []
    for c in cols:
        if c == "ours":
            scores = first["ours"]["scores"]
            best = {
                k: max((scores[u].get(k) or 0.0, u) for u in truth["unshifted"])
                for k in ("psi", "wasserstein_std", "ks_stat", "js")
            }
            noise.append(", ".join(f"{k} {v[0]:.3f} ({v[1]})" for k, v in best.items()))
        elif c.startswith("evidently"):
            v = max((first[c]["scores"].get(u) or 0.0, u) for u in truth["unshifted"])
            noise.append(f"{v[0]:.3f} ({v[1]})")
        else:
            scores = first[c]["scores"]
            parts = []
            for m in ("kolmogorov_smirnov", "jensen_shannon"):
                v = max(((scores[u].get(m) or 0.0), u) for u in truth["unshifted"] if m in scores[u])
                parts.append(f"{m} {v[0]:.3f} ({v[1]})")
            noise.append(", ".join(parts))
    lines.append("| largest over the 17 unshifted | " + " | ".join(noise) + " |")
    return f"{rows:,} rows, first pass of each tool:\n\n" + "\n".join(lines)


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}"


def write_report(path: Path, args, results, checks, truth_by_size, versions, started, raw=None) -> str:
    any_truth = next(iter(truth_by_size.values()))
    ours = {rows: per_tool.get("ours") for rows, per_tool in results.items()}
    parts = [
        "# Drift benchmark results",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine()}; `python benchmarks/drift/run.py "
        + " ".join(args.argv)
        + "`. Data: seed "
        + str(args.seed)
        + ", 20 numeric + 5 categorical features, 8 shifted (see README.md). Timings are medians "
        "over the passes, each pass a fresh process; wall time is the drift computation alone (what each "
        "tool's timing covers is in README.md), CPU time is that process's user + system time over "
        "the same span. Peak MB (process) is the runner process's ru_maxrss (wait4); peak MB during "
        "drift is the high-water mark of the timed span alone, the loaded data included; data MB is "
        "the resident size once the data was loaded, before the timed span.",
        "",
        results_table(results, truth_by_size),
        "",
        "Ratios (ours = profile + compare in one process):",
        "",
        ratio_table(results),
        "",
        "Every pass, in the order run:",
        "",
        passes_table(raw) if raw else "(no raw passes)",
        "",
        "Targets from the issue:",
        "",
        *verdict(results),
        "",
        (
            "Our statistics against an independent numpy/scipy computation in the same run (largest absolute "
            "difference over the columns, and where):"
        ),
        "",
        check_table(checks),
        "",
        "Ours against scipy's own ks_2samp, wasserstein_distance, chisquare and jensenshannon on the full "
        "columns (benchmarks/drift/README.md says why each differs):",
        "",
        scipy_table(checks),
        "",
    ]
    for rows, check in checks.items():
        if check:
            gap, name = sample_ks_gap(check)
            parts.append(
                f"- {rows:,} rows: KS on our 10,000-value reference sample vs KS on the full reference: "
                f"largest difference of the statistic {gap:.4f} ({name})."
            )
    parts += ["", "Where ours spends its time (median pass):", ""]
    for rows, s in ours.items():
        if s:
            parts.append(
                f"- {rows:,} rows: profile_build {fmt(s.get('build_s'), 2)} s, JSON round trip of the profile "
                f"{fmt(s.get('json_s'), 2)} s, drift_compare {fmt(s.get('compare_s'), 2)} s "
                f"(wall times of all passes {s['wall_s_all']})."
            )
    if raw:
        parts += ["", "Margins: each tool's numbers on the shifted columns, and its noise level", ""]
        for rows in raw:
            if "ours" in raw[rows]:
                parts += [margins_table(rows, raw[rows], truth_by_size[rows]), ""]
    parts += ["", "Flags per tool (first pass; identical in every pass unless marked):", ""]
    for rows, per_tool in results.items():
        for tool, s in per_tool.items():
            stable = "" if s["flags_stable"] else " (flags differed between passes)"
            extra = ""
            if "js_only" in s:
                js = s["js_only"]
                extra = (
                    f"; Jensen-Shannon alone: missed {short(js['missed'])}, false alarms {short(js['false_alarms'])}"
                )
            parts.append(f"- {rows:,}, {tool}: {short(s['flagged'], 30)}{stable}{extra}")
    parts += [
        "",
        "Shifted columns: " + "; ".join(f"`{c}` {d}" for c, d in any_truth["shifted"].items()) + ".",
        "",
        "Load average (1 min) before/after each timed span: "
        + "; ".join(
            f"{rows:,} {tool} {s['loadavg']}" for rows, per_tool in results.items() for tool, s in per_tool.items()
        )
        + ".",
        "",
        "Versions: "
        + "; ".join(f"{tool}: " + ", ".join(f"{k} {v}" for k, v in (vs or {}).items()) for tool, vs in versions.items())
        + ".",
        "",
    ]
    text = "\n".join(parts)
    if path:
        path.write_text(text)
    return text
