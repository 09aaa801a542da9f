//! The threads that run the partition tasks' pack producers.
//!
//! A producer reads the snapshot and the binlog with blocking calls, so it
//! must not run on tokio's worker threads. It used to get an OS thread (and a
//! runtime) of its own: with 10,000 partition tasks that was 10,000 threads,
//! about a gigabyte of stacks and runtimes, and most of the collector's CPU
//! spent switching between them. Now a few threads ([`thread_count`], twice
//! the cores), each with a current-thread runtime, run every producer as a
//! task; a producer blocks its thread only for one bounded read or pack at a
//! time, between awaits. Producers are spread round-robin.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{mpsc, oneshot};

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The shared threads, started on first use.
struct Threads {
    queues: Vec<mpsc::UnboundedSender<(Work, oneshot::Sender<bool>)>>,
    next: AtomicUsize,
}

static THREADS: OnceLock<Threads> = OnceLock::new();

/// How many producer threads run: twice the cores, at least 2.
pub fn thread_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(1)
        * 2
}

impl Threads {
    fn start(count: usize) -> Threads {
        let queues = (0..count)
            .filter_map(|i| {
                let (tx, rx) = mpsc::unbounded_channel();
                let started = std::thread::Builder::new()
                    .name(format!("producer-{i}"))
                    .spawn(move || serve(rx));
                match started {
                    Ok(_) => Some(tx),
                    Err(e) => {
                        tracing::error!("cannot start producer thread {i}: {e}");
                        None
                    }
                }
            })
            .collect();
        Threads {
            queues,
            next: AtomicUsize::new(0),
        }
    }
}

/// One thread's loop: runs every producer it is given as a task of its
/// runtime, and says how each ended (true: it returned; false: it panicked).
fn serve(mut rx: mpsc::UnboundedReceiver<(Work, oneshot::Sender<bool>)>) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start a producer runtime: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        while let Some((work, done)) = rx.recv().await {
            let task = tokio::spawn(work);
            tokio::spawn(async move {
                let _ = done.send(task.await.is_ok());
            });
        }
    });
}

/// Runs `work` on a producer thread; the receiver says how it ended (an
/// error if it could not be run at all).
pub fn spawn(work: impl Future<Output = ()> + Send + 'static) -> oneshot::Receiver<bool> {
    let threads = THREADS.get_or_init(|| Threads::start(thread_count()));
    let (done, ended) = oneshot::channel();
    if threads.queues.is_empty() {
        let _ = done.send(false);
        return ended;
    }
    let i = threads.next.fetch_add(1, Ordering::Relaxed) % threads.queues.len();
    if let Err(mpsc::error::SendError((_, done))) = threads.queues[i].send((Box::pin(work), done)) {
        let _ = done.send(false);
    }
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn many_producers_share_a_few_threads_and_a_panic_is_reported() {
        let names = std::sync::Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
        let mut ended = Vec::new();
        for _ in 0..200 {
            let names = names.clone();
            ended.push(spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                let name = std::thread::current().name().unwrap_or("").to_string();
                names.lock().expect("names").insert(name);
            }));
        }
        for e in ended {
            assert_eq!(e.await, Ok(true));
        }
        let names = names.lock().expect("names").clone();
        assert!(names.len() <= thread_count(), "{names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("producer-")),
            "{names:?}"
        );
        let panicked = spawn(async { panic!("a producer bug") });
        assert_eq!(panicked.await, Ok(false));
        // The thread that ran it still serves.
        let after: Vec<_> = (0..thread_count()).map(|_| spawn(async {})).collect();
        for e in after {
            assert_eq!(e.await, Ok(true));
        }
    }
}
