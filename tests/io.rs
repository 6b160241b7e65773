//! weft::io: the re-exported async I/O traits and helpers, over weft's
//! TcpStream.

use futures_util::StreamExt;
use weft::io::{
    copy, copy_buf, empty, repeat, sink, split, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt,
    BufReader, BufWriter, Cursor, ErrorKind,
};
use weft::net::{TcpListener, TcpStream};

fn runtime() -> weft::Runtime {
    weft::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

/// A connected pair over loopback.
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) =
        futures_util::future::join(TcpStream::connect(addr), listener.accept()).await;
    (client.unwrap(), accepted.unwrap().0)
}

#[test]
fn lines_read_line_and_write_all_over_tcp() {
    let rt = runtime();
    rt.block_on(async {
        let (client, server) = pair().await;
        // The server echoes each line upper-cased, through a BufWriter.
        let echo = weft::spawn(async move {
            let mut lines = BufReader::new(&server).lines();
            let mut out = BufWriter::new(&server);
            let mut count = 0;
            while let Some(line) = lines.next().await {
                let line = line?;
                out.write_all(line.to_uppercase().as_bytes()).await?;
                out.write_all(b"\n").await?;
                out.flush().await?;
                count += 1;
            }
            weft::io::Result::Ok(count)
        });
        let mut reader = BufReader::new(&client);
        let mut writer = &client;
        let mut line = String::new();
        for word in ["alpha", "beta", "gamma"] {
            writer
                .write_all(format!("{word}\n").as_bytes())
                .await
                .unwrap();
            line.clear();
            assert!(reader.read_line(&mut line).await.unwrap() > 0);
            assert_eq!(line, format!("{}\n", word.to_uppercase()));
        }
        client.shutdown(std::net::Shutdown::Write).unwrap();
        line.clear();
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 0, "EOF");
        assert_eq!(echo.await.unwrap().unwrap(), 3);
    });
}

#[test]
fn copy_and_copy_buf_move_every_byte() {
    const LEN: usize = 1 << 20;
    let rt = runtime();
    rt.block_on(async {
        let (client, server) = pair().await;
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        let expected = data.clone();
        // Client -> server with `copy`; the server sends it all back with
        // `copy_buf` from a BufReader over its read half.
        let back = weft::spawn(async move {
            let (read, mut write) = server.into_split();
            let n = copy_buf(BufReader::new(read), &mut write).await?;
            write.close().await?;
            weft::io::Result::Ok(n)
        });
        let (read, mut write) = client.into_split();
        let sender = async {
            let n = copy(Cursor::new(data), &mut write).await?;
            write.close().await?;
            weft::io::Result::Ok(n)
        };
        let receiver = async {
            let mut got = Vec::new();
            let mut read = read;
            read.read_to_end(&mut got).await?;
            weft::io::Result::Ok(got)
        };
        let (sent, got) = futures_util::future::join(sender, receiver).await;
        assert_eq!(sent.unwrap(), LEN as u64);
        assert_eq!(got.unwrap(), expected);
        assert_eq!(back.await.unwrap().unwrap(), LEN as u64);
    });
}

#[test]
fn split_halves_reunite_and_the_small_helpers_work() {
    let rt = runtime();
    rt.block_on(async {
        let (client, mut server) = pair().await;
        let (mut r, mut w) = split(client);
        w.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        server.write_all(b"pong").await.unwrap();
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        let client = r.reunite(w).expect("halves of one stream");
        assert!(client.peer_addr().is_ok());

        let mut nothing = Vec::new();
        empty().read_to_end(&mut nothing).await.unwrap();
        assert!(nothing.is_empty());
        let mut sevens = [0u8; 3];
        repeat(7).read_exact(&mut sevens).await.unwrap();
        assert_eq!(sevens, [7, 7, 7]);
        assert_eq!(copy(repeat(1).take(10), &mut sink()).await.unwrap(), 10);
        let err = Cursor::new(Vec::<u8>::new())
            .read_exact(&mut sevens)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
    });
}
