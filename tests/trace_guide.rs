//! The program of `docs/trace.md` ("Finding a slow request with a trace"),
//! compiled and run; `tests/doc_snippets/` keeps the page's copy identical.

mod doc_snippets;

#[test]
fn docs_show_these_snippets() {
    doc_snippets::check(include_str!("trace_guide.rs"), &["docs/trace.md"]);
}

mod slow_request {
    // snippet: slow_request
    use std::io;
    use std::sync::mpsc;
    use std::time::Duration;

    use futures_channel::mpsc::{unbounded, UnboundedSender};
    use futures_util::StreamExt;
    use weft::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use weft::net::{TcpListener, TcpStream};

    /// Builds the report: synchronous code someone called from async code.
    fn build_report() -> String {
        std::thread::sleep(Duration::from_millis(200)); // a blocking query
        "42 widgets".to_string()
    }

    /// One request per connection: `GET /path`, answered with a body.
    async fn handle(stream: TcpStream, log: UnboundedSender<String>) -> io::Result<()> {
        let mut stream = BufReader::new(stream);
        let mut request = String::new();
        stream.read_line(&mut request).await?;
        let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
        let _ = log.unbounded_send(format!("GET {path}")); // wakes the access log
        let body = match path.as_str() {
            "/report" => build_report(), // the bug: blocks this worker
            _ => "ok".to_string(),
        };
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.get_mut().write_all(reply.as_bytes()).await
    }

    async fn serve(listener: TcpListener, log: UnboundedSender<String>) -> io::Result<()> {
        loop {
            let (stream, _) = listener.accept().await?;
            weft::spawn(handle(stream, log.clone()));
        }
    }

    async fn get(addr: std::net::SocketAddr, path: &str) -> io::Result<String> {
        let mut stream = BufReader::new(TcpStream::connect(addr).await?);
        let request = format!("GET {path} HTTP/1.1\r\n\r\n");
        stream.get_mut().write_all(request.as_bytes()).await?;
        let mut reply = String::new();
        while stream.read_line(&mut reply).await? != 0 {}
        Ok(reply)
    }

    fn main() -> io::Result<()> {
        let (stalls_tx, stalls) = mpsc::channel();
        let stalls_tx = std::sync::Mutex::new(stalls_tx);
        let rt = weft::Runtime::builder()
            .worker_threads(2)
            // Polls longer than 50 ms are reported (and marked in the trace).
            .on_long_poll(Duration::from_millis(50), move |stall| {
                let _ = stalls_tx.lock().unwrap().send(stall.task_id);
            })
            .build()?;

        let recording = rt.start_trace().expect("nothing else is tracing");
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            let (log, mut lines) = unbounded::<String>();
            let access_log = weft::spawn(async move {
                let mut served = 0;
                while let Some(_line) = lines.next().await {
                    served += 1; // a real server would write the line out
                }
                served
            });
            let server = weft::spawn(serve(listener, log));
            for path in ["/", "/users", "/report", "/", "/health"] {
                assert!(get(addr, path).await?.starts_with("HTTP/1.1 200 OK"));
            }
            server.abort(); // drops the last sender: the access log ends
            assert_eq!(access_log.await.unwrap(), 5);
            io::Result::Ok(())
        })?;
        let trace = recording.stop();

        // 1. The numbers: one wake waited far longer than the others.
        let summary = trace.summary();
        println!("{summary}");
        let p99 = summary.wake_to_poll_p99().expect("tasks were woken");
        let max = summary.wake_to_poll_max().expect("tasks were woken");
        assert!(max >= Duration::from_millis(100), "a wake waited {max:?}");

        // 2. The culprit: the long-poll event names the task that blocked.
        let slow_task = stalls.try_recv().expect("the monitor saw the stall");
        let mut json = Vec::new();
        trace.write_chrome_json(&mut json)?;
        let json = String::from_utf8(json).expect("the JSON is UTF-8");
        let mark = r#""name":"long poll","ts":"#;
        let long_poll = json
            .lines()
            .find(|l| l.contains(mark))
            .expect("a long poll");
        assert!(long_poll.contains(&format!(r#""task":{}"#, slow_task.as_u64())));

        // 3. The timeline, to look at: the red mark sits on the blocked lane.
        let path = std::env::temp_dir().join(format!("slow-request-{}.html", std::process::id()));
        trace.write_html(std::fs::File::create(&path)?)?;
        println!("wake to poll p99 {p99:?}, max {max:?}; task {slow_task} blocked");
        println!("timeline: {}", path.display());
        std::fs::remove_file(&path)
    }
    // end snippet

    #[test]
    fn run() {
        main().unwrap();
    }
}
