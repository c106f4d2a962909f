//! Plain-text tables for the reports (the `--json` output is the serde form of the same data).

use std::fmt::Write;

use crate::cold::ColdReport;
use crate::compare::{summarize, CompareRow, CompareSummary};
use crate::loadgen::LoadReport;
use crate::runtime_bench::BinaryReport;

/// Microseconds, shown as µs below 10 ms and as ms above.
pub fn fmt_us(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else if us >= 100.0 {
        format!("{us:.0} µs")
    } else {
        format!("{us:.1} µs")
    }
}

/// Bytes as KiB or MiB.
pub fn fmt_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.2} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", b / 1024.0)
    }
}

fn fmt_errors(errors: &std::collections::BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".into();
    }
    errors
        .iter()
        .map(|(k, v)| format!("{v} × {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders rows of cells as aligned columns, the first row being the header.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| format!("{cell:<w$}", w = widths[c]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out
}

/// One load run, as a short block of text.
pub fn load_report(r: &LoadReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "target       {}", r.target);
    let _ = writeln!(
        out,
        "load         {} invocations, concurrency {}, warm-up {}",
        r.invocations, r.concurrency, r.warmup
    );
    let _ = writeln!(
        out,
        "first        {}",
        match r.first_request_us {
            Some(us) => fmt_us(us),
            None => format!("failed ({})", r.first_request_outcome),
        }
    );
    let _ = writeln!(
        out,
        "throughput   {:.0} invocations/s ({} ok in {:.3} s)",
        r.throughput_per_s, r.ok, r.wall_s
    );
    let l = &r.latency;
    let _ = writeln!(
        out,
        "latency      p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {})",
        fmt_us(l.p50_us),
        fmt_us(l.p90_us),
        fmt_us(l.p99_us),
        fmt_us(l.p999_us),
        fmt_us(l.max_us),
        fmt_us(l.mean_us)
    );
    let _ = writeln!(out, "connections  {}", r.connections_opened);
    let _ = writeln!(out, "errors       {}", fmt_errors(&r.errors));
    for c in &r.cpu {
        let _ = writeln!(
            out,
            "cpu          {} (pid {}): {}",
            if c.name.is_empty() { "?" } else { &c.name },
            c.pid,
            match (c.per_invocation_us, c.total_ms) {
                (Some(per), Some(total)) => {
                    format!("{} per invocation ({total:.0} ms in all)", fmt_us(per))
                }
                _ => "not readable at the end (the process exited?)".into(),
            }
        );
    }
    out
}

/// CPU per request of a report's watched processes, or `n/a`.
fn fmt_cpu(r: &LoadReport) -> String {
    r.cpu_per_invocation_us().map_or("n/a".into(), fmt_us)
}

/// The floor-versus-endpoint table.
pub fn compare_table(rows: &[CompareRow]) -> String {
    let rounds = rows.iter().map(|r| r.round).max().unwrap_or(1);
    let mut cells = vec![[
        "C",
        "round",
        "target",
        "invokes/s",
        "p50",
        "p90",
        "p99",
        "max",
        "errors",
        "p50 ×floor",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    let cpu_watched = rows
        .iter()
        .any(|r| !r.floor.cpu.is_empty() || !r.endpoint.cpu.is_empty());
    if cpu_watched {
        cells[0].push("server CPU/inv".into());
    }
    for row in rows {
        for (r, ratio) in [(&row.floor, None), (&row.endpoint, Some(row.p50_ratio))] {
            let cpu = cpu_watched.then(|| fmt_cpu(r));
            cells.push(vec![
                row.concurrency.to_string(),
                row.round.to_string(),
                r.label.clone(),
                format!("{:.0}", r.throughput_per_s),
                fmt_us(r.latency.p50_us),
                fmt_us(r.latency.p90_us),
                fmt_us(r.latency.p99_us),
                fmt_us(r.latency.max_us),
                r.error_count().to_string(),
                match ratio {
                    None => String::new(),
                    Some(Some(x)) => format!("{x:.2}"),
                    Some(None) => "n/a".into(),
                },
            ]);
            if let (Some(cpu), Some(last)) = (cpu, cells.last_mut()) {
                last.push(cpu);
            }
        }
    }
    if rounds == 1 {
        // One round: the round column says nothing.
        for row in &mut cells {
            row.remove(1);
        }
    }
    let mut out = table(&cells);
    if rounds > 1 {
        out.push('\n');
        out.push_str(&compare_summary_table(&summarize(rows)));
    }
    for row in rows {
        for r in [&row.floor, &row.endpoint] {
            if !r.errors.is_empty() {
                let _ = writeln!(
                    out,
                    "errors at C={} ({}): {}",
                    row.concurrency,
                    r.label,
                    fmt_errors(&r.errors)
                );
            }
        }
    }
    out
}

/// Medians over the rounds, one line per concurrency level.
pub fn compare_summary_table(summaries: &[CompareSummary]) -> String {
    let mut cells = vec![[
        "C",
        "rounds",
        "floor p50 (median)",
        "endpoint p50 (median)",
        "p50 ×floor (median)",
        "p50 ×floor (range)",
        "endpoint invokes/s (median)",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    let cpu_watched = summaries.iter().any(|s| {
        s.floor_cpu_per_invocation_us.is_some() || s.endpoint_cpu_per_invocation_us.is_some()
    });
    if cpu_watched {
        cells[0].push("floor CPU/inv (median)".into());
        cells[0].push("endpoint CPU/inv (median)".into());
    }
    for s in summaries {
        cells.push(vec![
            s.concurrency.to_string(),
            s.rounds.to_string(),
            fmt_us(s.floor_p50_us),
            fmt_us(s.endpoint_p50_us),
            s.p50_ratio.map_or("n/a".into(), |x| format!("{x:.2}")),
            s.p50_ratio_range
                .map_or("n/a".into(), |(lo, hi)| format!("{lo:.2}–{hi:.2}")),
            format!("{:.0}", s.endpoint_throughput_per_s),
        ]);
        if cpu_watched {
            if let Some(last) = cells.last_mut() {
                last.push(s.floor_cpu_per_invocation_us.map_or("n/a".into(), fmt_us));
                last.push(
                    s.endpoint_cpu_per_invocation_us
                        .map_or("n/a".into(), fmt_us),
                );
            }
        }
    }
    table(&cells)
}

/// The side-by-side table of the runtime harness.
pub fn runtime_table(reports: &[BinaryReport]) -> String {
    let mut cells = vec![[
        "binary",
        "size",
        "first /next (median, min)",
        "RSS after init",
        "wall/inv",
        "p50",
        "p99",
        "CPU/inv",
        "init CPU",
        "errors",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for r in reports {
        cells.push(vec![
            r.name.clone(),
            fmt_bytes(r.size_bytes),
            format!(
                "{} ({})",
                fmt_us(r.first_next_median_us),
                fmt_us(r.first_next_min_us)
            ),
            fmt_bytes((r.rss_after_init_kib * 1024.0) as u64),
            fmt_us(r.wall_per_invocation_us),
            fmt_us(r.latency.p50_us),
            fmt_us(r.latency.p99_us),
            fmt_us(r.cpu_per_invocation_us),
            fmt_us(r.init_cpu_us),
            r.error_count().to_string(),
        ]);
    }
    let mut out = table(&cells);
    if let Some(r) = reports.first() {
        let _ = writeln!(
            out,
            "{} measured invocations × {} round(s) per binary; first /next over {} start(s)",
            r.invocations, r.rounds, r.starts
        );
    }
    for r in reports {
        if r.error_count() > 0 {
            let _ = writeln!(
                out,
                "{}: function errors {}, mismatches {}, refused {}",
                r.name,
                fmt_errors(&r.function_errors),
                r.mismatches,
                fmt_errors(&r.refused)
            );
        }
    }
    out
}

/// The cold-start comparison: one row per round, then the medians.
pub fn cold_table(r: &ColdReport) -> String {
    let mut cells = vec![[
        "round",
        "bare exec → /next",
        "cold invoke",
        "Init Duration",
        "warm invoke",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    let row = |label: String, bare: f64, cold: f64, init: f64, warm: f64| {
        vec![
            label,
            fmt_us(bare),
            fmt_us(cold),
            fmt_us(init),
            fmt_us(warm),
        ]
    };
    for (i, round) in r.rounds.iter().enumerate() {
        cells.push(row(
            (i + 1).to_string(),
            round.bare_first_next_us,
            round.cold_invoke_us,
            round.init_duration_us,
            round.warm_invoke_us,
        ));
    }
    cells.push(row(
        "median".into(),
        r.bare_first_next_us,
        r.cold_invoke_us,
        r.init_duration_us,
        r.warm_invoke_us,
    ));
    let mut out = table(&cells);
    let _ = writeln!(
        out,
        "{}: the emulator adds {} to a cold start (cold invoke − bare exec → /next, medians); {} beyond one warm invoke",
        r.name,
        fmt_us(r.added_us),
        fmt_us(r.added_beyond_warm_us)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_units() {
        assert_eq!(fmt_us(12.34), "12.3 µs");
        assert_eq!(fmt_us(512.0), "512 µs");
        assert_eq!(fmt_us(12_345.0), "12.35 ms");
        assert_eq!(fmt_bytes(2048), "2.0 KiB");
        assert_eq!(fmt_bytes(3 * 1024 * 1024), "3.00 MiB");
    }

    #[test]
    fn aligns_columns() {
        let t = table(&[
            vec!["a".into(), "bb".into()],
            vec!["ccc".into(), "d".into()],
        ]);
        assert_eq!(t, "a    bb\n---  --\nccc  d\n");
    }
}
