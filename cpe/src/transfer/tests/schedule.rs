//! ScheduleDownload (TR-069 Amd 6 A.4.1.8) through the executor: the window end bounds the
//! transfer (9020), on injected wall-clock time and paused tokio time.

use std::time::{Duration, Instant};

use schemas::rpc::{EventCode, FaultCode};

use super::support::{Reply, Server, ok};
use super::{Harness, NOW, schedule, transfer_complete};

#[tokio::test]
async fn scheduled_download_in_its_window_completes_with_m_schedule_download() {
    let server = Server::start(|_, _| ok("image")).await;
    let mut h = Harness::new();
    let url = server.url("/fw").to_string();
    h.queue
        .schedule_download(&schedule("sched", &url, &[(60, 600, 0)]), NOW)
        .unwrap();
    assert!(h.queue.poll_due(NOW).is_none());
    h.clock.set(NOW + 60);
    let completion = h.run_due().await;
    assert_eq!(completion.fault(), None);
    assert_eq!(
        transfer_complete(&completion).start_time.unix_seconds(),
        NOW + 60
    );
    assert_eq!(
        completion.events()[1].event_code,
        EventCode::Method("ScheduleDownload".into())
    );
    assert_eq!(h.hooks().calls()[0].contents, b"image");
}

#[tokio::test]
async fn window_over_before_the_executor_starts_is_9020_without_contacting_the_server() {
    let server = Server::start(|_, _| ok("image")).await;
    let mut h = Harness::new();
    let url = server.url("/fw").to_string();
    h.queue
        .schedule_download(&schedule("s", &url, &[(0, 100, 0)]), NOW)
        .unwrap();
    let job = h.start(NOW + 100);
    // The agent was slow to run the job: the window's last second has passed.
    h.clock.set(NOW + 101);
    let outcome = h.executor.run(&job).await;
    let completion = h.queue.finish(outcome, NOW + 101).unwrap();
    h.completions.push(completion.clone());
    assert_eq!(completion.fault(), Some(FaultCode::TimeWindowMissed));
    assert!(server.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn window_ending_during_the_download_is_9020() {
    // Answers the head, then stalls: only the window end stops the transfer.
    let server =
        Server::start(|_, _| Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome"))
            .await;
    let mut h = Harness::new();
    let url = server.url("/fw").to_string();
    h.queue
        .schedule_download(&schedule("s", &url, &[(0, 9, 0)]), NOW)
        .unwrap();
    let started = tokio::time::Instant::now();
    let wall = Instant::now();
    let completion = h.run_due().await;
    assert_eq!(completion.fault(), Some(FaultCode::TimeWindowMissed));
    // The window's 10 seconds (9 plus its last second) on paused time, not the 30 s
    // response timeout; and no real waiting.
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert!(wall.elapsed() < Duration::from_secs(5));
    assert!(h.queue.is_empty());
}
