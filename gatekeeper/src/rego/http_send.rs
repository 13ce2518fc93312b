//! `http.send` for regorus, which only declares it: real HTTP with OPA's request and response
//! shapes (`status_code`, lower-cased `headers` with array values, `body` for JSON, `raw_body`),
//! network errors as `status_code: 0` with `error` when `raise_error` is false.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use regorus::Value;
use serde_json::{json, Map, Value as Json};

/// Bodies larger than this are refused (an envelope or manifest is a few KiB).
const MAX_BODY: u64 = 16 << 20;

/// The extension closure: `http.send(request)`.
pub fn extension() -> impl FnMut(Vec<Value>) -> Result<Value> + Clone + Send + Sync {
    let clients = Arc::new(Clients::default());
    move |args: Vec<Value>| {
        let request: Json = serde_json::from_str(&args[0].to_json_str()?)?;
        let response = send(&clients, &request)?;
        Ok(Value::from_json_str(&response.to_string())?)
    }
}

#[derive(Default)]
struct Clients {
    secure: std::sync::OnceLock<reqwest::blocking::Client>,
    insecure: std::sync::OnceLock<reqwest::blocking::Client>,
}

impl Clients {
    fn get(&self, insecure: bool) -> Result<&reqwest::blocking::Client> {
        let cell = if insecure {
            &self.insecure
        } else {
            &self.secure
        };
        if let Some(c) = cell.get() {
            return Ok(c);
        }
        let client = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(insecure)
            .build()?;
        Ok(cell.get_or_init(|| client))
    }
}

fn send(clients: &Clients, request: &Json) -> Result<Json> {
    let obj = request
        .as_object()
        .ok_or_else(|| anyhow!("http.send: the request is not an object"))?;
    let method = obj
        .get("method")
        .and_then(Json::as_str)
        .ok_or_else(|| anyhow!("http.send: method is required"))?;
    let url = obj
        .get("url")
        .and_then(Json::as_str)
        .ok_or_else(|| anyhow!("http.send: url is required"))?;
    let raise_error = obj
        .get("raise_error")
        .and_then(Json::as_bool)
        .unwrap_or(true);
    let insecure = obj
        .get("tls_insecure_skip_verify")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let timeout = obj
        .get("timeout")
        .map(parse_timeout)
        .transpose()?
        .unwrap_or(Duration::from_secs(5));
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .context("http.send: bad method")?;
    let is_head = method == reqwest::Method::HEAD;
    let mut builder = clients.get(insecure)?.request(method, url).timeout(timeout);
    if let Some(headers) = obj.get("headers").and_then(Json::as_object) {
        for (k, v) in headers {
            let v = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            builder = builder.header(k, v);
        }
    }
    if let Some(raw) = obj.get("raw_body").and_then(Json::as_str) {
        builder = builder.body(raw.to_string());
    } else if let Some(body) = obj.get("body") {
        builder = builder
            .body(body.to_string())
            .header("Content-Type", "application/json");
    }
    let response = match builder.send() {
        Ok(r) => r,
        Err(e) if !raise_error => {
            return Ok(
                json!({"status_code": 0, "error": {"code": "eval_http_send_network_error", "message": error_chain(&e)}}),
            )
        }
        Err(e) => bail!("http.send: {url}: {}", error_chain(&e)),
    };
    let status = response.status();
    let mut headers: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for (name, value) in response.headers() {
        headers
            .entry(name.as_str().to_ascii_lowercase())
            .or_default()
            .push(Json::String(value.to_str().unwrap_or_default().to_string()));
    }
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.first())
        .and_then(Json::as_str)
        .is_some_and(|ct| ct.contains("json"));
    let mut raw = Vec::new();
    if !is_head {
        response.take(MAX_BODY + 1).read_to_end(&mut raw)?;
        if raw.len() as u64 > MAX_BODY {
            bail!("http.send: {url}: body larger than {MAX_BODY} bytes");
        }
    }
    let raw_body = String::from_utf8_lossy(&raw).into_owned();
    let force_json = obj
        .get("force_json_decode")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let body = if (is_json || force_json) && !raw.is_empty() {
        serde_json::from_slice(&raw).unwrap_or(Json::Null)
    } else {
        Json::Null
    };
    let mut out = Map::new();
    out.insert("status_code".into(), json!(status.as_u16()));
    out.insert("status".into(), json!(status.to_string()));
    out.insert("headers".into(), json!(headers));
    out.insert("body".into(), body);
    out.insert("raw_body".into(), json!(raw_body));
    Ok(Json::Object(out))
}

/// The error and its causes (reqwest's own message stops at "error sending request"), like Go's
/// `Head "url": dial tcp …: connect: connection refused`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    message
}

/// OPA accepts `"5s"`, `"500ms"`, `"1m"` or a number of nanoseconds.
fn parse_timeout(v: &Json) -> Result<Duration> {
    if let Some(ns) = v.as_u64() {
        return Ok(Duration::from_nanos(ns));
    }
    let s = v
        .as_str()
        .ok_or_else(|| anyhow!("http.send: timeout must be a string or a number"))?;
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| anyhow!("http.send: timeout {s:?} has no unit"))?;
    let n: f64 = s[..split]
        .parse()
        .with_context(|| format!("http.send: timeout {s:?}"))?;
    let secs = match &s[split..] {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        unit => bail!("http.send: timeout unit {unit:?}"),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A one-shot HTTP server answering `response` bytes; returns its base URL.
    fn serve_once(response: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(&response);
            }
        });
        url
    }

    fn get(url: &str, extra: Json) -> Result<Json> {
        let mut request = json!({"method": "get", "url": url, "raise_error": false});
        request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        send(&Clients::default(), &request)
    }

    #[test]
    fn responses_have_opa_shapes() {
        let body = br#"{"manifests":[]}"#;
        let url = serve_once(
            [
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\nLink: </v2/a/referrers/x?last=1>; rel=\"next\"\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes(),
                body.to_vec(),
            ]
            .concat(),
        );
        let r = get(&url, json!({"headers": {"Accept": "application/json"}})).unwrap();
        assert_eq!(r["status_code"], 200);
        assert_eq!(
            r["headers"]["link"][0],
            "</v2/a/referrers/x?last=1>; rel=\"next\""
        );
        assert_eq!(r["body"], json!({"manifests": []}));
        assert_eq!(r["raw_body"], r#"{"manifests":[]}"#);
    }

    #[test]
    fn a_network_error_is_status_0_unless_raise_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/v2/");
        let r = get(&url, json!({})).unwrap();
        assert_eq!(r["status_code"], 0);
        assert_eq!(r["error"]["code"], "eval_http_send_network_error");
        // The cause is named, as OPA's message names it ("connect: connection refused").
        let message = r["error"]["message"].as_str().unwrap().to_lowercase();
        assert!(message.contains("connection refused"), "{message}");
        let err = get(&url, json!({"raise_error": true})).unwrap_err();
        assert!(err.to_string().contains(&url), "{err}");
    }

    #[test]
    fn an_oversized_body_is_refused() {
        let len = MAX_BODY + 10;
        let mut response = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes();
        response.resize(response.len() + len as usize, b'a');
        let url = serve_once(response);
        let err = get(&url, json!({})).unwrap_err();
        assert!(err.to_string().contains("body larger than"), "{err}");
    }

    #[test]
    fn timeouts_parse_like_opa() {
        let t = |v: Json| parse_timeout(&v);
        assert_eq!(t(json!("10s")).unwrap(), Duration::from_secs(10));
        assert_eq!(t(json!("250ms")).unwrap(), Duration::from_millis(250));
        assert_eq!(t(json!("1.5m")).unwrap(), Duration::from_secs(90));
        assert_eq!(t(json!(2_000_000_000u64)).unwrap(), Duration::from_secs(2));
        assert!(t(json!("10")).is_err());
        assert!(t(json!("10 parsecs")).is_err());
        assert!(t(json!(true)).is_err());
    }
}
