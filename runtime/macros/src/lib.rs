//! The `#[handler]` attribute macro for firebox-runtime: turns an `async fn` handler into a
//! Lambda `bootstrap` by writing its `main`. Re-exported as `firebox_runtime::handler`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned, ToTokens};
use syn::{
    parse_macro_input, spanned::Spanned, FnArg, GenericArgument, ItemFn, LitStr, Path,
    PathArguments, ReturnType, Type,
};

/// Writes `main` for an `async fn` Lambda handler.
///
/// ```no_run
/// use firebox_runtime::{handler, Context, Error};
/// use serde_json::{json, Value};
///
/// #[handler]
/// async fn hello(event: Value, ctx: Context) -> Result<Value, Error> {
///     Ok(json!({ "got": event, "requestId": ctx.request_id }))
/// }
/// ```
///
/// State built once during Init, shared by warm invocations:
///
/// ```no_run
/// use firebox_runtime::{handler, Context, Error};
///
/// struct State {
///     greeting: String,
/// }
///
/// async fn build_state() -> Result<State, Error> {
///     Ok(State { greeting: "Hello".to_owned() })
/// }
///
/// #[handler(init = build_state)]
/// async fn greet(name: String, _ctx: Context, state: &State) -> Result<String, Error> {
///     Ok(format!("{}, {name}!", state.greeting))
/// }
/// ```
///
/// - The handler takes the event (any `Deserialize` type) and `Context`, plus `&S` or
///   `Arc<S>` when `init` is given, and returns `Result<R, E>` with `R: Serialize`.
/// - `E` becomes the error document through `Into<Diagnostic>` when it has it, else (for
///   `std::error::Error` types) `errorType` is its type name without module path.
/// - An `init` error or panic is posted to `/runtime/init/error` and the process exits 1.
/// - With `AWS_LAMBDA_MAX_CONCURRENCY=N` above 1, the generated `main` serves N invocations at
///   once when the handler's future (and the `init` state) is `Send`, and fails Init with
///   `Runtime.InvalidEnvironment` otherwise.
/// - `flavor = "current_thread"` (the default, unless the `multi-thread` feature is on) or
///   `flavor = "multi_thread"` (needs the `multi-thread` feature) picks the tokio runtime.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("init") {
            args.init = Some(meta.value()?.parse::<Path>()?);
            Ok(())
        } else if meta.path.is_ident("flavor") {
            let lit: LitStr = meta.value()?.parse()?;
            args.flavor = Some(match lit.value().as_str() {
                "current_thread" => Flavor::CurrentThread,
                "multi_thread" => Flavor::MultiThread,
                _ => {
                    return Err(syn::Error::new(
                        lit.span(),
                        "unknown flavor: expected \"current_thread\" or \"multi_thread\"",
                    ))
                }
            });
            Ok(())
        } else {
            Err(meta
                .error("unknown #[handler] argument: expected `init = path` or `flavor = \"...\"`"))
        }
    });
    parse_macro_input!(attr with parser);
    let function = parse_macro_input!(item as ItemFn);
    match expand(args, &function) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            // Keep the function and a stub `main` so the only error is the one that matters.
            let error = error.to_compile_error();
            quote!(#error #function fn main() {}).into()
        }
    }
}

#[derive(Default)]
struct Args {
    init: Option<Path>,
    flavor: Option<Flavor>,
}

enum Flavor {
    CurrentThread,
    MultiThread,
}

/// How the handler receives the shared state.
enum StateArg {
    Reference,
    Arc,
}

fn expand(args: Args, function: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            "#[handler] needs an `async fn`: write `async fn`",
        ));
    }
    if sig.ident == "main" {
        return Err(syn::Error::new(
            sig.ident.span(),
            "#[handler] writes `main` itself: give the handler another name",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a #[handler] function cannot be generic",
        ));
    }
    let expected = if args.init.is_some() { 3 } else { 2 };
    let inputs: Vec<&FnArg> = sig.inputs.iter().collect();
    if inputs.len() != expected {
        // Point at the whole argument list, parentheses included.
        let span = sig.paren_token.span.join();
        let message = match (inputs.len(), args.init.is_some()) {
            (3, false) => "a third argument (shared state) needs `#[handler(init = build_state)]`".to_owned(),
            (_, true) => format!(
                "a #[handler(init = ...)] function takes 3 arguments: `(event: T, ctx: Context, state: &S)`; found {}",
                inputs.len()
            ),
            (n, false) => format!(
                "a #[handler] function takes 2 arguments: `(event: T, ctx: Context)`; found {n}"
            ),
        };
        return Err(syn::Error::new(span, message));
    }
    let mut types = Vec::with_capacity(expected);
    for input in &inputs {
        match input {
            FnArg::Receiver(r) => {
                return Err(syn::Error::new_spanned(
                    r,
                    "a #[handler] function cannot take `self`",
                ))
            }
            FnArg::Typed(pat) => types.push(&*pat.ty),
        }
    }
    let event_ty = types[0];
    let context_ty = types[1];
    if last_segment(context_ty)
        .map(|s| s.ident != "Context")
        .unwrap_or(true)
    {
        return Err(syn::Error::new_spanned(
            context_ty,
            "the second argument of a #[handler] function must be the invocation's `Context` (`firebox_runtime::Context`)",
        ));
    }
    let state = match types.get(2) {
        None => None,
        Some(Type::Reference(r)) if r.mutability.is_none() => Some(StateArg::Reference),
        Some(ty) if last_segment(ty).is_some_and(|s| s.ident == "Arc") => Some(StateArg::Arc),
        Some(ty) => {
            return Err(syn::Error::new_spanned(
                ty,
                "the state argument must be `&S` or `Arc<S>`",
            ))
        }
    };
    let (output_span, response_ty) = match &sig.output {
        ReturnType::Default => {
            return Err(syn::Error::new(
                sig.paren_token.span.join(),
                "a #[handler] function must return `Result<R, E>` (R: Serialize)",
            ))
        }
        ReturnType::Type(_, ty) => {
            let segment = last_segment(ty)
                .filter(|s| s.ident == "Result")
                .ok_or_else(|| {
                    syn::Error::new_spanned(
                        ty,
                        "a #[handler] function must return `Result<R, E>` (R: Serialize)",
                    )
                })?;
            let first = match &segment.arguments {
                PathArguments::AngleBracketed(a) => a.args.iter().find_map(|arg| match arg {
                    GenericArgument::Type(t) => Some(t.clone()),
                    _ => None,
                }),
                _ => None,
            };
            (ty.span(), first)
        }
    };

    let name = &sig.ident;
    let rt = quote!(::firebox_runtime);
    let runtime = match args.flavor {
        None => quote!(#rt::__private::default_runtime()),
        Some(Flavor::CurrentThread) => quote!(#rt::__private::current_thread_runtime()),
        Some(Flavor::MultiThread) => quote!(#rt::__private::multi_thread_runtime()),
    };
    let to_diagnostic = |value: TokenStream2| {
        quote_spanned! {output_span=>
            {
                #[allow(unused_imports)]
                use #rt::__private::{ViaError as _, ViaInto as _};
                let __probe = #rt::__private::ErrorProbe::new(#value);
                // The borrow picks the conversion (`Into<Diagnostic>` first, then type name).
                #[allow(clippy::needless_borrow)]
                let __diagnostic = (&__probe).take_diagnostic();
                __diagnostic
            }
        }
    };
    let state_arg = match state {
        None => quote!(),
        Some(StateArg::Reference) => quote!(, &*__state),
        Some(StateArg::Arc) => quote!(, __state),
    };
    let handler_error = to_diagnostic(quote!(__error));
    let call = quote! {
        let (__payload, __context) = __event.into_parts();
        match #name(__payload, __context #state_arg).await {
            ::core::result::Result::Ok(__value) => {
                ::core::result::Result::Ok::<_, #rt::Diagnostic>(__value)
            }
            ::core::result::Result::Err(__error) => ::core::result::Result::Err(#handler_error),
        }
    };
    let event_check =
        quote_spanned!(event_ty.span()=> #rt::__private::assert_event::<#event_ty>(););
    let response_check = response_ty
        .map(|ty| quote_spanned!(ty.span()=> #rt::__private::assert_response::<#ty>();))
        .unwrap_or_default();
    let launch = quote! {
        #[allow(unused_imports)]
        use #rt::__private::{ServeConcurrent as _, ServeOneAtATime as _};
        let __launch = #rt::__private::Launch::<_, #event_ty>::new(__started, __service);
        // The borrow picks the loop: concurrent when the service can be shared, else one at
        // a time.
        #[allow(clippy::needless_borrow)]
        let __serving = (&__launch).launch();
        __serving.await
    };
    let serve = match &args.init {
        None => quote! {
            let __started = match #rt::__private::start().await {
                ::core::result::Result::Ok(__started) => __started,
                ::core::result::Result::Err(__error) => return ::core::result::Result::Err(__error),
            };
            let __service = #rt::service_fn(|__event: #rt::LambdaEvent<#event_ty>| async move { #call });
            #launch
        },
        Some(init) => {
            let init_error = to_diagnostic(quote!(__error));
            quote! {
                let __init = #rt::__private::start_with_init(|| async {
                    match #init().await {
                        ::core::result::Result::Ok(__state) => ::core::result::Result::Ok(__state),
                        ::core::result::Result::Err(__error) => {
                            ::core::result::Result::Err::<_, #rt::Diagnostic>(#init_error)
                        }
                    }
                })
                .await;
                let (__started, __state) = match __init {
                    ::core::result::Result::Ok(__parts) => __parts,
                    ::core::result::Result::Err(__error) => return ::core::result::Result::Err(__error),
                };
                let __service = #rt::service_fn(move |__event: #rt::LambdaEvent<#event_ty>| {
                    let __state = ::std::sync::Arc::clone(&__state);
                    async move { #call }
                });
                #launch
            }
        }
    };
    let main_span = Span::call_site();
    let main = quote_spanned! {main_span=>
        fn main() {
            #event_check
            #response_check
            #rt::__private::main(#runtime, async { #serve })
        }
    };
    let mut out = function.to_token_stream();
    out.extend(main);
    Ok(out)
}

/// The last path segment of a type like `a::b::Name<..>`.
fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}
