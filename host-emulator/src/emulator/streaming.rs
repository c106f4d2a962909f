//! The [`Emulator`]'s streaming invoke and the addresses of its function URLs, for tests that
//! read a response as it is produced or call a URL with their own HTTP client.

use bytes::Bytes;

use super::Emulator;
use crate::client::{self, ClientError, InvokeOptions, InvokeStream};

impl Emulator {
    /// Invokes a function through `InvokeWithResponseStream` over HTTP and returns once the
    /// answer's head has arrived: each chunk is handed over as it arrives, with the time it did,
    /// then the `InvokeComplete` (see [`InvokeStream`]). A function that does not stream answers
    /// one chunk; a service error (404, 429...) is an [`InvokeStream`] whose `status`,
    /// `error_code` and `body` say it.
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::InvokeOptions;
    /// let tail = InvokeOptions { log_tail: true, ..Default::default() };
    /// let mut stream = emu.invoke_stream("streaming", r#"{"mode":"large","mib":1}"#, &tail).await?;
    /// assert_eq!(stream.status, 200);
    /// while let Some(chunk) = stream.next_chunk().await? {
    ///     println!("{:?}: {:?}", chunk.arrived, chunk.bytes);
    /// }
    /// let complete = stream.complete().expect("the stream ended with InvokeComplete");
    /// assert_eq!(complete.error_code, None); // Some("Sandbox.Timedout")... when it failed
    /// assert!(complete.log_tail.as_deref().unwrap_or("").contains("START RequestId"));
    ///
    /// // Or all at once:
    /// let whole = emu
    ///     .invoke_stream("streaming", r#"{"mode":"fail_midway"}"#, &InvokeOptions::default())
    ///     .await?
    ///     .finish()
    ///     .await?;
    /// assert_eq!(whole.text(), "chunk 1\nchunk 2\nchunk 3\n");
    /// assert_eq!(whole.complete.error_code.as_deref(), Some("StreamInterrupted"));
    /// # Ok(()) }
    /// ```
    pub async fn invoke_stream(
        &self,
        function: &str,
        payload: impl Into<Bytes>,
        options: &InvokeOptions,
    ) -> Result<InvokeStream, ClientError> {
        client::invoke_stream(self.endpoint(), function, payload.into(), options).await
    }

    /// The base address of a function URL, in path form: `http://127.0.0.1:PORT/lambda-url/NAME/`
    /// for `function` `NAME` (the unqualified URL), `…/lambda-url/NAME:ALIAS/` for `NAME:ALIAS`.
    /// Append the request's path to it (`rawPath` is what follows the base, with its leading
    /// `/`). The address is the same whether or not the function has a URL there; without one
    /// it answers 404.
    ///
    /// ```no_run
    /// # fn demo(emu: firebox_emulator::Emulator) {
    /// let url = format!("{}items/42?tag=a", emu.function_url("web"));
    /// // e.g. reqwest::get(&url): the function gets rawPath /items/42
    /// # }
    /// ```
    pub fn function_url(&self, function: &str) -> String {
        format!("{}/lambda-url/{function}/", self.endpoint())
    }
}
