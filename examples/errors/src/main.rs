//! `errors`: every way an invocation can end, chosen by the event's `kind`.
//!
//! | event | outcome |
//! |---|---|
//! | `{"kind":"ok"}` | success: `{"ok": true}` |
//! | `{"kind":"typed","order_id":"42"}` | function error `{"errorType":"OrderNotFound","errorMessage":"order 42 not found"}` (`order_id` optional) |
//! | `{"kind":"panic"}` | function error `{"errorType":"Panic","errorMessage":"panic requested by the event"}`; the environment keeps serving |
//! | `{"kind":"slow","ms":N}` | sleeps N ms, then `{"slept_ms": N}` (for timeout tests) |
//! | `{"kind":"exit","code":N}` | the process exits with status N mid-invocation (a crash, `Runtime.ExitError`) |
//! | anything else (unknown `kind`, no `kind`, not JSON) | `Runtime.UnmarshalError`; the handler is not called |

use std::time::Duration;

use firebox_runtime::{handler, Context};
use serde::Deserialize;
use serde_json::{json, Value};

/// What the event asks for.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Request {
    Ok,
    Typed {
        #[serde(default)]
        order_id: Option<String>,
    },
    Panic,
    Slow {
        ms: u64,
    },
    Exit {
        code: i32,
    },
}

/// A typed error: reported with `errorType` `OrderNotFound`.
#[derive(Debug, thiserror::Error)]
#[error("order {order_id} not found")]
struct OrderNotFound {
    order_id: String,
}

#[handler]
async fn errors(event: Request, _ctx: Context) -> Result<Value, OrderNotFound> {
    match event {
        Request::Ok => Ok(json!({ "ok": true })),
        Request::Typed { order_id } => Err(OrderNotFound {
            order_id: order_id.unwrap_or_else(|| "unknown".to_owned()),
        }),
        Request::Panic => panic!("panic requested by the event"),
        Request::Slow { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(json!({ "slept_ms": ms }))
        }
        Request::Exit { code } => std::process::exit(code),
    }
}
