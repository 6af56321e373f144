//! Sends an exact number of GETs over a few keep-alive connections and waits for
//! every answer, for `bench/instructions.sh`: counting a proxy's instructions
//! per request needs the request count exact, which a timed load (wrk) is not.
//!
//!   request_loop ADDR PATH REQUESTS CONNECTIONS [HEADER: VALUE]...
//!
//! Prints `requests=N non_200=M`. Exits 1 when a connection fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(addr), Some(path), Some(Ok(total)), Some(Ok(conns))) = (
        args.first(),
        args.get(1),
        args.get(2).map(|n| n.parse::<usize>()),
        args.get(3).map(|n| n.parse::<usize>()),
    ) else {
        eprintln!("usage: request_loop ADDR PATH REQUESTS CONNECTIONS [HEADER: VALUE]...");
        std::process::exit(2);
    };
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for h in &args[4..] {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let per = total.div_ceil(conns.max(1));
    let workers: Vec<_> = (0..conns.max(1))
        .map(|i| {
            let n = per.min(total.saturating_sub(i * per));
            let (addr, request) = (addr.clone(), request.clone());
            std::thread::spawn(move || run(&addr, &request, n))
        })
        .collect();
    let (mut done, mut other) = (0, 0);
    for w in workers {
        match w.join() {
            Ok(Ok((d, o))) => {
                done += d;
                other += o;
            }
            Ok(Err(e)) => {
                eprintln!("request_loop: {e}");
                std::process::exit(1);
            }
            Err(_) => std::process::exit(1),
        }
    }
    println!("requests={done} non_200={other}");
}

/// `n` requests on one connection; how many got an answer, and how many of
/// those were not 200.
fn run(addr: &str, request: &str, n: usize) -> std::io::Result<(usize, usize)> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let (mut done, mut other) = (0, 0);
    let mut line = String::new();
    for _ in 0..n {
        writer.write_all(request.as_bytes())?;
        line.clear();
        reader.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 200") {
            other += 1;
        }
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("connection closed"));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        done += 1;
    }
    Ok((done, other))
}
