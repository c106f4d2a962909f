//! Output capture at line boundaries, against real processes: an unfinished last line belongs
//! to the invocation that wrote it and is logged before its `END`, and what a runtime writes
//! after its answer is not lost when its environment is reclaimed.

mod common;

use std::time::Duration;

use common::*;

/// The log entries from `START` to `END` of `request_id`, both excluded.
fn entries_of(texts: &[String], request_id: &str) -> Vec<String> {
    let at = |prefix: &str| {
        texts
            .iter()
            .position(|t| t.starts_with(&format!("{prefix} RequestId: {request_id}")))
    };
    match (at("START"), at("END")) {
        (Some(start), Some(end)) if start < end => texts[start + 1..end].to_vec(),
        _ => panic!("no START ... END of {request_id}:\n{}", texts.join("\n")),
    }
}

#[tokio::test]
async fn an_unfinished_last_line_is_its_own_invocation_s() {
    let emu = start(vec![function("partial", "")]).await;
    let first = emu
        .invoke("partial", r#"{"partial": "no newline after this"}"#)
        .await
        .unwrap();
    assert_eq!(first.status, 200);
    let first_id = first.request_id.clone().unwrap();
    let second = emu
        .invoke("partial", r#"{"lines": ["the next invocation's line"]}"#)
        .await
        .unwrap();
    let texts = texts(&emu, "partial");
    assert_eq!(
        entries_of(&texts, &first_id),
        ["no newline after this"],
        "before the first END, alone"
    );
    assert_eq!(
        entries_of(&texts, second.request_id.as_deref().unwrap()),
        ["the next invocation's line"],
        "not glued onto the unfinished line"
    );
}

#[tokio::test]
async fn an_unfinished_line_written_after_the_answer_outlives_an_idle_reclaim() {
    let emu = start(vec![
        function("late", "").idle_timeout(Duration::from_millis(300))
    ])
    .await;
    let r = emu
        .invoke("late", r#"{"partial_after": "written after the answer"}"#)
        .await
        .unwrap();
    let pid = r.json().unwrap()["pid"].as_i64().unwrap();
    assert!(wait_gone(pid).await, "the idle environment was reclaimed");
    let line = wait_for_line(&emu, "late", |t| t.contains("written after the answer")).await;
    assert_eq!(line, "written after the answer");
}

/// Provisioned environments start before the emulator is handed back: a subscription made then
/// has missed their first lines; `logs_from_start` (what `firebox serve` prints) has them.
#[tokio::test]
async fn logs_from_start_hold_the_first_lines_of_provisioned_environments() {
    let emu = start(vec![
        function("warm", "print_init").provisioned_concurrency(2)
    ])
    .await;
    wait_metric(
        &emu,
        r#"firebox_environments{function="warm",state="idle"}"#,
        2.0,
    )
    .await;
    let drain = |mut rx: tokio::sync::broadcast::Receiver<firebox_emulator::LogLine>| {
        let mut texts = Vec::new();
        while let Ok(line) = rx.try_recv() {
            texts.push(line.text);
        }
        texts
    };
    let count =
        |texts: &[String], prefix: &str| texts.iter().filter(|t| t.starts_with(prefix)).count();
    let from_start = drain(emu.logs_from_start());
    assert_eq!(count(&from_start, "INIT_START"), 2, "{from_start:#?}");
    assert_eq!(count(&from_start, "init line 1"), 2, "{from_start:#?}");
    // Taken once: a second call subscribes from now on.
    assert!(drain(emu.logs_from_start()).is_empty());
}
