use std::time::Duration;

use super::Tasks;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn shutdown_cancels_every_task_and_waits_for_them_to_end() {
    let tasks = Tasks::new();
    for _ in 0..3 {
        let token = tasks.token();
        tasks.spawn(async move { token.cancelled().await });
    }
    tasks.spawn_until_shutdown(std::future::pending::<()>());
    let ran = tasks.spawn_blocking(|| 7);
    assert_eq!(ran.await.unwrap(), 7);
    assert_eq!(tasks.running(), 4);
    assert_eq!(tasks.shutdown(Duration::from_secs(1)).await, 0);
    assert_eq!(tasks.running(), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_task_that_ignores_the_token_is_counted_at_the_deadline() {
    let tasks = Tasks::new();
    tasks.spawn(async { tokio::time::sleep(Duration::from_secs(3600)).await });
    let token = tasks.token();
    tasks.spawn(async move { token.cancelled().await });
    assert_eq!(tasks.shutdown(Duration::from_secs(5)).await, 1);
}
