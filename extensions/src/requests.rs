//! The Extensions, Telemetry and Logs APIs' requests — paths, headers and bodies — built apart
//! from sending them, so they can be checked without a server.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Uri};
use http_body_util::Full;
use serde_json::json;

use crate::{Buffering, Endpoint, Error, EventType, Protocol, TelemetryType};

/// The API version in every path.
const VERSION: &str = "2020-01-01";
/// The Telemetry API's subscription path.
const TELEMETRY_PATH: &str = "/2022-07-01/telemetry";
/// The Telemetry API's record schema subscribed to.
pub(crate) const SCHEMA_VERSION: &str = "2022-12-13";
/// The Logs API's subscription path.
const LOGS_PATH: &str = "/2020-08-15/logs";
/// The Logs API's record schema subscribed to.
pub(crate) const LOGS_SCHEMA_VERSION: &str = "2021-03-18";
const USER_AGENT: &str = concat!("firebox-extensions/", env!("CARGO_PKG_VERSION"));
const JSON: &str = "application/json";

/// The name an extension registers under.
pub(crate) const NAME: &str = "lambda-extension-name";
/// Asks the registration answer for optional fields (`accountId`).
pub(crate) const ACCEPT_FEATURE: &str = "lambda-extension-accept-feature";
/// The extension's identifier, answered by `/register` and sent with every later call.
pub(crate) const IDENTIFIER: &str = "lambda-extension-identifier";
/// The identifier of an event delivered by `/event/next`.
pub(crate) const EVENT_IDENTIFIER: &str = "lambda-extension-event-identifier";
/// The type of a reported error.
pub(crate) const FUNCTION_ERROR_TYPE: &str = "lambda-extension-function-error-type";

/// A request body: one buffered chunk (empty for `/event/next`).
pub(crate) type RequestBody = Full<Bytes>;

/// Which error an extension reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorReport {
    /// `/extension/init/error`: the extension failed to start.
    Init,
    /// `/extension/exit/error`: the extension is exiting because of an error.
    Exit,
}

/// The API a subscription is made through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscriptionApi {
    /// `PUT /2022-07-01/telemetry`, schema `2022-12-13`.
    Telemetry,
    /// `PUT /2020-08-15/logs`, schema `2021-03-18`.
    Logs,
}

impl SubscriptionApi {
    fn path(self) -> &'static str {
        match self {
            SubscriptionApi::Telemetry => TELEMETRY_PATH,
            SubscriptionApi::Logs => LOGS_PATH,
        }
    }

    fn schema_version(self) -> &'static str {
        match self {
            SubscriptionApi::Telemetry => SCHEMA_VERSION,
            SubscriptionApi::Logs => LOGS_SCHEMA_VERSION,
        }
    }
}

/// Builds requests for one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Requests {
    host: HeaderValue,
    prefix: String,
}

impl Requests {
    /// Requests for `endpoint`; fails if its address cannot be sent as a `Host` header.
    pub(crate) fn new(endpoint: &Endpoint) -> Result<Self, Error> {
        let host = HeaderValue::from_str(endpoint.authority())
            .map_err(|_| Error::InvalidAddress(endpoint.to_string()))?;
        // The prefix must make a valid path; checked once here.
        Uri::try_from(format!(
            "{}/{VERSION}/extension/register",
            endpoint.prefix()
        ))
        .map_err(|_| Error::InvalidAddress(endpoint.to_string()))?;
        Ok(Requests {
            host,
            prefix: endpoint.prefix().to_owned(),
        })
    }

    /// `POST /extension/register` for `name`, subscribed to `events`.
    pub(crate) fn register(
        &self,
        name: &str,
        events: &[EventType],
        accept_account_id: bool,
    ) -> Result<Request<RequestBody>, Error> {
        let name_value = check_name(name)?;
        let mut subscribed: Vec<EventType> = Vec::with_capacity(events.len());
        for event in events {
            if !subscribed.contains(event) {
                subscribed.push(*event);
            }
        }
        let body = json!({ "events": subscribed }).to_string();
        let mut req = self.request(Method::POST, "register", Some(body))?;
        let headers = req.headers_mut();
        headers.insert(NAME, name_value);
        if accept_account_id {
            headers.insert(ACCEPT_FEATURE, HeaderValue::from_static("accountId"));
        }
        Ok(req)
    }

    /// `GET /extension/event/next` for the extension `extension_id`.
    pub(crate) fn next(&self, extension_id: &str) -> Result<Request<RequestBody>, Error> {
        let mut req = self.request(Method::GET, "event/next", None)?;
        req.headers_mut()
            .insert(IDENTIFIER, header_value(IDENTIFIER, extension_id)?);
        Ok(req)
    }

    /// `POST /extension/init/error` or `/extension/exit/error` with an error document.
    pub(crate) fn error(
        &self,
        report: ErrorReport,
        extension_id: &str,
        error_type: &str,
        message: &str,
    ) -> Result<Request<RequestBody>, Error> {
        let path = match report {
            ErrorReport::Init => "init/error",
            ErrorReport::Exit => "exit/error",
        };
        let error_type_value = header_value(FUNCTION_ERROR_TYPE, error_type)?;
        let body = json!({
            "errorMessage": message,
            "errorType": error_type,
            "stackTrace": [],
        })
        .to_string();
        let mut req = self.request(Method::POST, path, Some(body))?;
        let headers = req.headers_mut();
        headers.insert(IDENTIFIER, header_value(IDENTIFIER, extension_id)?);
        headers.insert(FUNCTION_ERROR_TYPE, error_type_value);
        Ok(req)
    }

    /// `PUT /2022-07-01/telemetry` or `PUT /2020-08-15/logs`: subscribes the extension
    /// `extension_id` to the records of `types`, batched as `buffering` and sent to
    /// `destination` with the protocol of its scheme (`http://` or `tcp://`).
    pub(crate) fn subscribe(
        &self,
        api: SubscriptionApi,
        extension_id: &str,
        types: &[TelemetryType],
        buffering: &Buffering,
        destination: &str,
    ) -> Result<Request<RequestBody>, Error> {
        let protocol = check_destination(destination)?;
        let mut subscribed: Vec<TelemetryType> = Vec::with_capacity(types.len());
        for kind in types {
            if !subscribed.contains(kind) {
                subscribed.push(*kind);
            }
        }
        let body = json!({
            "schemaVersion": api.schema_version(),
            "types": subscribed.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "buffering": {
                "maxItems": buffering.max_items(),
                "maxBytes": buffering.max_bytes(),
                "timeoutMs": buffering.timeout_ms(),
            },
            "destination": {"protocol": protocol.as_str(), "URI": destination},
        })
        .to_string();
        let mut req = self.request_to(Method::PUT, api.path(), Some(body))?;
        req.headers_mut()
            .insert(IDENTIFIER, header_value(IDENTIFIER, extension_id)?);
        Ok(req)
    }

    /// A request to `/2020-01-01/extension/<what>` with the common headers.
    fn request(
        &self,
        method: Method,
        what: &str,
        json_body: Option<String>,
    ) -> Result<Request<RequestBody>, Error> {
        self.request_to(method, &format!("/{VERSION}/extension/{what}"), json_body)
    }

    /// A request to `path` (after the prefix) with the common headers.
    fn request_to(
        &self,
        method: Method,
        path: &str,
        json_body: Option<String>,
    ) -> Result<Request<RequestBody>, Error> {
        let uri = Uri::try_from(format!("{}{path}", self.prefix))
            // `path` is one of this module's fixed paths and the prefix was checked in `new`.
            .map_err(|_| Error::InvalidAddress(self.prefix.clone()))?;
        let has_body = json_body.is_some();
        let mut req = Request::new(Full::new(Bytes::from(json_body.unwrap_or_default())));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        let headers = req.headers_mut();
        headers.insert(header::HOST, self.host.clone());
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        if has_body {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        }
        Ok(req)
    }
}

/// `name` as a `Lambda-Extension-Name` value, or why it cannot be one.
fn check_name(name: &str) -> Result<HeaderValue, Error> {
    let refuse = |reason| Error::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(refuse("it is empty"));
    }
    if name.trim() != name {
        return Err(refuse("it starts or ends with white space"));
    }
    if !name.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(refuse(
            "it must be printable ASCII (it is sent in the Lambda-Extension-Name header)",
        ));
    }
    HeaderValue::from_str(name).map_err(|_| refuse("it cannot be sent as a header"))
}

/// The protocol of `destination`: an `http://host[:port][/path]` address Lambda can POST to,
/// or a `tcp://host:port` address it can connect to.
fn check_destination(destination: &str) -> Result<Protocol, Error> {
    let refuse = |reason| Error::InvalidDestination {
        uri: destination.to_owned(),
        reason,
    };
    let uri = Uri::try_from(destination).map_err(|_| refuse("it is not a URI"))?;
    let protocol = match uri.scheme_str() {
        Some("http") => Protocol::Http,
        Some("tcp") => Protocol::Tcp,
        _ => {
            return Err(refuse(
                "it must be an http:// or a tcp:// address (Lambda sends plain HTTP or TCP inside the environment)",
            ))
        }
    };
    if uri.host().is_none_or(str::is_empty) {
        return Err(refuse("it has no host"));
    }
    if protocol == Protocol::Tcp {
        if uri.port_u16().is_none_or(|port| port == 0) {
            return Err(refuse("a tcp:// address needs a port (tcp://host:port)"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(refuse("a tcp:// address has no path (tcp://host:port)"));
        }
    }
    Ok(protocol)
}

/// `value` as a header value (printable ASCII, not empty), or [`Error::InvalidHeader`].
fn header_value(header: &'static str, value: &str) -> Result<HeaderValue, Error> {
    let invalid = || Error::InvalidHeader {
        header,
        value: value.to_owned(),
    };
    if value.trim().is_empty() || !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(invalid());
    }
    HeaderValue::from_str(value).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use serde_json::Value;

    use super::*;

    fn requests(address: &str) -> Requests {
        Requests::new(&Endpoint::parse(address).unwrap()).unwrap()
    }

    async fn json_body(req: Request<RequestBody>) -> Value {
        let bytes = req.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn header<'a>(req: &'a Request<RequestBody>, name: &str) -> Option<&'a str> {
        req.headers().get(name).map(|v| v.to_str().unwrap())
    }

    #[tokio::test]
    async fn register_requests() {
        let req = requests("127.0.0.1:9001")
            .register("my-ext", &[EventType::Invoke, EventType::Shutdown], false)
            .unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri(), "/2020-01-01/extension/register");
        assert_eq!(header(&req, "host"), Some("127.0.0.1:9001"));
        assert_eq!(header(&req, "Lambda-Extension-Name"), Some("my-ext"));
        assert_eq!(header(&req, "Lambda-Extension-Accept-Feature"), None);
        assert_eq!(header(&req, "content-type"), Some("application/json"));
        assert_eq!(
            json_body(req).await,
            serde_json::json!({"events": ["INVOKE", "SHUTDOWN"]})
        );

        let req = requests("http://localhost:1/prefix/")
            .register("x", &[EventType::Shutdown, EventType::Shutdown], true)
            .unwrap();
        assert_eq!(req.uri(), "/prefix/2020-01-01/extension/register");
        assert_eq!(
            header(&req, "Lambda-Extension-Accept-Feature"),
            Some("accountId")
        );
        assert_eq!(
            json_body(req).await,
            serde_json::json!({"events": ["SHUTDOWN"]})
        );

        let req = requests("127.0.0.1:1").register("x", &[], false).unwrap();
        assert_eq!(json_body(req).await, serde_json::json!({"events": []}));
    }

    #[test]
    fn bad_names_are_refused_before_sending() {
        let requests = requests("127.0.0.1:1");
        for bad in ["", " ext", "ext\n", "extén", "a\u{7f}"] {
            match requests.register(bad, &[], false) {
                Err(Error::InvalidName { name, .. }) => assert_eq!(name, bad),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn next_requests() {
        let req = requests("http://127.0.0.1:9001/p").next("4d3c-ab").unwrap();
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri(), "/p/2020-01-01/extension/event/next");
        assert_eq!(header(&req, "Lambda-Extension-Identifier"), Some("4d3c-ab"));
        assert_eq!(header(&req, "content-type"), None);
        assert!(matches!(
            requests("127.0.0.1:1").next("bad\nid"),
            Err(Error::InvalidHeader {
                header: IDENTIFIER,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn telemetry_requests() {
        let buffering = Buffering::new(1_000, 262_144, 25).unwrap();
        let req = requests("http://127.0.0.1:9001/p")
            .subscribe(
                SubscriptionApi::Telemetry,
                "id-1",
                &[
                    TelemetryType::Platform,
                    TelemetryType::Function,
                    TelemetryType::Platform,
                ],
                &buffering,
                "http://sandbox.localdomain:4243/telemetry",
            )
            .unwrap();
        assert_eq!(req.method(), Method::PUT);
        assert_eq!(req.uri(), "/p/2022-07-01/telemetry");
        assert_eq!(header(&req, "host"), Some("127.0.0.1:9001"));
        assert_eq!(header(&req, "Lambda-Extension-Identifier"), Some("id-1"));
        assert_eq!(header(&req, "content-type"), Some("application/json"));
        assert_eq!(
            json_body(req).await,
            serde_json::json!({
                "schemaVersion": "2022-12-13",
                "types": ["platform", "function"],
                "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/telemetry"}
            })
        );
        let req = requests("127.0.0.1:1")
            .subscribe(
                SubscriptionApi::Telemetry,
                "id",
                &[],
                &Buffering::default(),
                "tcp://sandbox.localdomain:4244",
            )
            .unwrap();
        let body = json_body(req).await;
        assert_eq!(
            body["buffering"],
            serde_json::json!({"maxItems": 10000, "maxBytes": 262144, "timeoutMs": 1000})
        );
        assert_eq!(
            body["destination"],
            serde_json::json!({"protocol": "TCP", "URI": "tcp://sandbox.localdomain:4244"})
        );
    }

    #[tokio::test]
    async fn logs_requests() {
        let req = requests("http://127.0.0.1:9001/p")
            .subscribe(
                SubscriptionApi::Logs,
                "id-2",
                &[TelemetryType::Platform, TelemetryType::Extension],
                &Buffering::default(),
                "tcp://sandbox.localdomain:4245/",
            )
            .unwrap();
        assert_eq!(req.method(), Method::PUT);
        assert_eq!(req.uri(), "/p/2020-08-15/logs");
        assert_eq!(header(&req, "Lambda-Extension-Identifier"), Some("id-2"));
        assert_eq!(header(&req, "content-type"), Some("application/json"));
        assert_eq!(
            json_body(req).await,
            serde_json::json!({
                "schemaVersion": "2021-03-18",
                "types": ["platform", "extension"],
                "buffering": {"maxItems": 10000, "maxBytes": 262144, "timeoutMs": 1000},
                "destination": {"protocol": "TCP", "URI": "tcp://sandbox.localdomain:4245/"}
            })
        );
    }

    #[test]
    fn bad_destinations_are_refused_before_sending() {
        let requests = requests("127.0.0.1:1");
        let buffering = Buffering::default();
        for api in [SubscriptionApi::Telemetry, SubscriptionApi::Logs] {
            for bad in [
                "",
                "sandbox.localdomain:4243",
                "https://sandbox.localdomain:4243/t",
                "udp://sandbox.localdomain:4243",
                "http://",
                "http://bad host:1/",
                "/telemetry",
                "tcp://sandbox.localdomain",
                "tcp://sandbox.localdomain:0",
                "tcp://sandbox.localdomain:4243/logs",
                "tcp://sandbox.localdomain:4243/?q",
            ] {
                match requests.subscribe(api, "id", &[TelemetryType::Platform], &buffering, bad) {
                    Err(Error::InvalidDestination { uri, .. }) => assert_eq!(uri, bad),
                    other => panic!("{bad:?}: {other:?}"),
                }
            }
        }
        assert!(matches!(
            requests.subscribe(
                SubscriptionApi::Telemetry,
                "",
                &[],
                &buffering,
                "http://127.0.0.1:9"
            ),
            Err(Error::InvalidHeader {
                header: IDENTIFIER,
                ..
            })
        ));
    }

    #[tokio::test]
    async fn error_requests() {
        let requests = requests("127.0.0.1:9001");
        for (report, path) in [
            (ErrorReport::Init, "/2020-01-01/extension/init/error"),
            (ErrorReport::Exit, "/2020-01-01/extension/exit/error"),
        ] {
            let req = requests
                .error(report, "id-1", "Extension.ConfigError", "no \"config\"")
                .unwrap();
            assert_eq!(req.method(), Method::POST);
            assert_eq!(req.uri(), path);
            assert_eq!(header(&req, "Lambda-Extension-Identifier"), Some("id-1"));
            assert_eq!(
                header(&req, "Lambda-Extension-Function-Error-Type"),
                Some("Extension.ConfigError")
            );
            assert_eq!(
                json_body(req).await,
                serde_json::json!({
                    "errorMessage": "no \"config\"",
                    "errorType": "Extension.ConfigError",
                    "stackTrace": []
                })
            );
        }
        assert!(matches!(
            requests.error(ErrorReport::Exit, "id", "", "m"),
            Err(Error::InvalidHeader {
                header: FUNCTION_ERROR_TYPE,
                ..
            })
        ));
    }
}
