//! Latency of one WebSocket ticket's life through a running portcullis: mint it
//! (`POST /api/auth/ws-ticket` with a session cookie, on a kept-alive connection),
//! then redeem it (an upgrade request with `?ticket=` on a fresh connection, until
//! the status line of the answer). Prints p50, p99 and max over N pairs, for the
//! benchmark (bench/throughput.sh), which runs it against the memory and the
//! Redis store.
//!
//!   cargo run --release --example ticket_latency -- 127.0.0.1:8080 "$COOKIE" 2000

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(addr), Some(cookie)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: ticket_latency HOST:PORT COOKIE [N]");
        std::process::exit(2);
    };
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let Ok(mut keep) = TcpStream::connect(addr) else {
        eprintln!("cannot connect to {addr}");
        std::process::exit(1);
    };
    let _ = keep.set_nodelay(true);
    let mut reader = match keep.try_clone() {
        Ok(s) => BufReader::new(s),
        Err(e) => fail(&format!("{e}")),
    };
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let mint = format!(
            "POST /api/auth/ws-ticket HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Length: 0\r\n\r\n"
        );
        if keep.write_all(mint.as_bytes()).is_err() {
            fail("the mint connection closed");
        }
        let body = read_response(&mut reader);
        let Some(ticket) = body
            .split("\"ticket\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        else {
            fail(&format!("no ticket in the answer: {body}"));
        };
        let mut ws = TcpStream::connect(addr).unwrap_or_else(|e| fail(&format!("{e}")));
        let _ = ws.set_nodelay(true);
        let upgrade = format!(
            "GET /ws?ticket={ticket} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        let _ = ws.write_all(upgrade.as_bytes());
        let mut status = [0u8; 12];
        if ws.read_exact(&mut status).is_err() {
            fail("no answer to the upgrade");
        }
        times.push(start.elapsed());
        if &status[9..12] == b"401" {
            fail("the ticket was refused: redemption failed");
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "ticket mint+redeem over {n}: p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        ms(at(0.50)),
        ms(at(0.99)),
        ms(times[times.len() - 1])
    );
}

/// Reads one HTTP/1.1 response with a Content-Length body; returns the body.
fn read_response(reader: &mut BufReader<TcpStream>) -> String {
    let mut length = 0;
    let mut status = String::new();
    let _ = reader.read_line(&mut status);
    if !status.contains(" 200 ") {
        fail(&format!("mint answered {}", status.trim()));
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            fail("the mint answer ended early");
        }
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    String::from_utf8_lossy(&body).to_string()
}

fn fail(why: &str) -> ! {
    eprintln!("ticket_latency: {why}");
    std::process::exit(1);
}
