//! A replay HTTP server answering as Elasticsearch does (bodies and headers from
//! shared/reference), for the live-cluster code. Plain HTTP on loopback; it records each request
//! so tests can check what was sent (and that nothing was sent that should not be).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One canned answer.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) method: &'static str,
    /// Path, with the query when the route depends on it (`/_security/api_key?id=X`); a route
    /// without `?` matches any query.
    pub(crate) path: String,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
    /// Wait this long before answering.
    pub(crate) delay: Option<Duration>,
    /// Close the connection without answering.
    pub(crate) hang_up: bool,
    /// Answer only this many times (then the next matching route is used).
    pub(crate) times: Option<usize>,
    /// Announce this `content-length` instead of the body's (longer: the connection then
    /// closes mid-answer).
    pub(crate) announce: Option<usize>,
    /// Send the body one byte per interval, after the headers.
    pub(crate) trickle: Option<Duration>,
    /// Send the body again and again, without end (a hostile or broken server).
    pub(crate) endless: bool,
}

impl Route {
    /// The same route answering `body`.
    pub(crate) fn with_body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }

    /// The same route claiming to be `product` in `X-elastic-product`.
    pub(crate) fn with_product(mut self, product: &str) -> Self {
        self.headers
            .retain(|(name, _)| *name != "x-elastic-product");
        self.headers
            .push(("x-elastic-product", product.to_string()));
        self
    }

    pub(crate) fn json(method: &'static str, path: &str, status: u16, body: &str) -> Self {
        Self {
            method,
            path: path.to_string(),
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("x-elastic-product", "Elasticsearch".into()),
            ],
            body: body.to_string(),
            delay: None,
            hang_up: false,
            times: None,
            announce: None,
            trickle: None,
            endless: false,
        }
    }
}

/// A recorded request.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) authorization: Option<String>,
    pub(crate) body: String,
}

pub(crate) struct Replay {
    pub(crate) url: String,
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
}

impl Replay {
    /// Serve `routes` on a free loopback port until the test process ends.
    pub(crate) fn start(routes: Vec<Route>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let routes = Arc::new(Mutex::new(routes));
        let log = seen.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let routes = routes.clone();
                let log = log.clone();
                thread::spawn(move || serve(stream, &routes, &log));
            }
        });
        Self { url, seen }
    }

    pub(crate) fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, routes: &Mutex<Vec<Route>>, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut length = 0;
        let mut authorization = None;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            let (name, value) = h.split_once(':').unwrap_or((&h, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(value.trim().to_string()),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        log.lock().unwrap().push(Seen {
            method: method.clone(),
            target: target.clone(),
            authorization,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let route = {
            let mut routes = routes.lock().unwrap();
            let idx = routes.iter().position(|r| {
                r.method == method
                    && (r.path == target
                        || (!r.path.contains('?') && target.split('?').next() == Some(&r.path)))
            });
            idx.map(|i| {
                let r = routes[i].clone();
                if let Some(n) = routes[i].times.as_mut() {
                    *n -= 1;
                    if *n == 0 {
                        routes.remove(i);
                    }
                }
                r
            })
        };
        let Some(route) = route else {
            let body = r#"{"error":"no route in the replay server"}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 418 I'm a teapot\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            continue;
        };
        if let Some(d) = route.delay {
            thread::sleep(d);
        }
        if route.hang_up {
            return;
        }
        let mut head = format!("HTTP/1.1 {} {}\r\n", route.status, reason(route.status));
        for (name, value) in &route.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let length = route.announce.unwrap_or(route.body.len());
        head.push_str(&format!("content-length: {length}\r\n\r\n"));
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        if route.endless {
            while stream.write_all(route.body.as_bytes()).is_ok() {}
            return;
        }
        if let Some(pause) = route.trickle {
            for byte in route.body.as_bytes() {
                if stream.write_all(&[*byte]).is_err() || stream.flush().is_err() {
                    return;
                }
                thread::sleep(pause);
            }
        } else if stream.write_all(route.body.as_bytes()).is_err() {
            return;
        }
        if length > route.body.len() {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
