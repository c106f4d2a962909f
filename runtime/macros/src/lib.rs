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
/// - The handler takes the event (any `Deserialize` type) and `Context` (by value), plus `&S`
///   or `Arc<S>` when `init` is given, and returns `Result<R, E>` with `R: Serialize`. `init`
///   returns `S` itself: the runtime puts it in an `Arc`.
/// - A handler taking `LambdaEvent<T>`, as `lambda_runtime`'s do, is not for `#[handler]`:
///   write `main` with `run(service_fn(handler))`.
/// - `E` becomes the error document through `Into<Diagnostic>` when it has it, else (for
///   `std::error::Error` types) by the rule a boxed error follows: `errorType` is the name its
///   derived `Debug` starts with (a struct's name, an enum variant's name).
/// - An `init` error or panic is posted to `/runtime/init/error` and the process exits 1.
/// - The handler's future need not be `Send`, nor the `init` state `Send + Sync` (an `Rc`, a
///   `Cell`, a `RefCell` borrow held across an `.await`): such a handler is served one
///   invocation at a time. When they are, and `AWS_LAMBDA_MAX_CONCURRENCY=N` is above 1, the
///   generated `main` serves N invocations at once; a handler served one at a time fails Init
///   with `Runtime.InvalidEnvironment` instead.
/// - `flavor = "current_thread"` (the default, unless the `multi-thread` feature is on) or
///   `flavor = "multi_thread"` (needs the `multi-thread` feature) picks the tokio runtime.
#[proc_macro_attribute]
pub fn handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut args = Args::default();
    // A bad argument is reported, and the others still apply: the function and `main` are
    // written anyway, so the argument's error is the only one.
    let mut errors: Option<syn::Error> = None;
    let mut report = |error: syn::Error| match &mut errors {
        Some(errors) => errors.combine(error),
        None => errors = Some(error),
    };
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("init") {
            args.init = Some(meta.value()?.parse::<Path>()?);
        } else if meta.path.is_ident("flavor") {
            let lit: LitStr = meta.value()?.parse()?;
            match lit.value().as_str() {
                "current_thread" => args.flavor = Some((Flavor::CurrentThread, lit.span())),
                "multi_thread" => args.flavor = Some((Flavor::MultiThread, lit.span())),
                _ => report(syn::Error::new(
                    lit.span(),
                    "unknown flavor: expected \"current_thread\" or \"multi_thread\"",
                )),
            }
        } else {
            report(meta.error(
                "unknown #[handler] argument: expected `init = path` or `flavor = \"...\"`",
            ));
            // Skip its value, if any, and go on with the next argument.
            if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|nested| {
                    if nested.input.peek(syn::Token![=]) {
                        nested.value()?.parse::<syn::Expr>()?;
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    });
    if let Err(error) = syn::parse::Parser::parse(parser, attr) {
        report(error);
    }
    let function = parse_macro_input!(item as ItemFn);
    let mut out = errors.map(|e| e.to_compile_error()).unwrap_or_default();
    match expand(args, &function) {
        Ok(tokens) => out.extend(tokens),
        Err(error) => {
            // Keep the function and a stub `main` so the only error is the one that matters.
            out.extend(error.to_compile_error());
            out.extend(quote!(#function fn main() {}));
        }
    }
    out.into()
}

#[derive(Default)]
struct Args {
    init: Option<Path>,
    /// The flavor and where it was written.
    flavor: Option<(Flavor, Span)>,
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
        let lambda_event = match inputs.first() {
            Some(FnArg::Typed(pat)) if inputs.len() == 1 => {
                last_segment(&pat.ty).is_some_and(|s| s.ident == "LambdaEvent")
            }
            _ => false,
        };
        let message = match (inputs.len(), args.init.is_some()) {
            (3, false) => "a third argument (shared state) needs `#[handler(init = build_state)]`".to_owned(),
            (_, true) => format!(
                "a #[handler(init = ...)] function takes 3 arguments: `(event: T, ctx: Context, state: &S)`; found {}",
                inputs.len()
            ),
            (1, false) if lambda_event => "a #[handler] function takes the event and the context apart: \
                `(event: T, ctx: Context)`; to keep `(event: LambdaEvent<T>)` as in lambda_runtime, \
                drop #[handler] and write `main` with `run(service_fn(handler))`"
                .to_owned(),
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
    if let Type::Reference(r) = context_ty {
        if last_segment(&r.elem).is_some_and(|s| s.ident == "Context") {
            return Err(syn::Error::new_spanned(
                context_ty,
                "a #[handler] function takes the invocation's `Context` by value: write `ctx: Context`",
            ));
        }
    }
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
    let (output_ty, response_ty) = match &sig.output {
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
            (&**ty, first)
        }
    };
    let output_span = output_ty.span();

    let name = &sig.ident;
    let rt = quote!(::firebox_runtime);
    let runtime = match args.flavor {
        None => quote!(#rt::__private::default_runtime()),
        Some((Flavor::CurrentThread, _)) => quote!(#rt::__private::current_thread_runtime()),
        // A macro of the runtime crate: a compile error naming the feature when it is off.
        Some((Flavor::MultiThread, span)) => quote_spanned!(span=> #rt::__multi_thread_runtime!()),
    };
    let to_diagnostic = |value: TokenStream2| {
        quote_spanned! {output_span=>
            {
                #[allow(unused_imports)]
                use #rt::__private::{ViaError as _, ViaInto as _};
                let __probe = #rt::__private::ErrorProbe::new(#value);
                // The borrow picks the conversion (`Into<Diagnostic>` first, then the `Debug` rule).
                #[allow(clippy::needless_borrow)]
                let __diagnostic = (&__probe).take_diagnostic();
                __diagnostic
            }
        }
    };
    let handler_error = to_diagnostic(quote!(__error));
    // The state as `invoke` receives it, and as the handler takes it.
    let (state_ty, state_arg) = match (state, types.get(2)) {
        (Some(StateArg::Reference), Some(Type::Reference(r))) => {
            let referent = &r.elem;
            (
                quote_spanned!(r.span()=> ::std::sync::Arc<#referent>),
                quote!(, &*__state),
            )
        }
        (Some(StateArg::Arc), Some(ty)) => (quote!(#ty), quote!(, __state)),
        _ => (quote!(::std::sync::Arc<()>), quote!()),
    };
    let event_type = quote_spanned!(event_ty.span()=> #rt::__private::event_type::<#event_ty>());
    let response_type = match &response_ty {
        Some(ty) => quote_spanned!(ty.span()=> #rt::__private::response_type::<#ty>()),
        None => quote_spanned!(output_span=>
            #rt::__private::response_type::<<#output_ty as #rt::__private::HandlerResult>::Ok>()
        ),
    };
    // The invocation is a function of its own, not a closure or an async block in `main`: only
    // then can `main` tell whether its future is `Send` (see `__private::HandlerService`).
    let invoke = quote! {
        #[allow(non_snake_case, clippy::needless_lifetimes)]
        async fn __firebox_invoke(
            __event: #rt::LambdaEvent<#event_ty>,
            __state: #state_ty,
        ) -> ::core::result::Result<
            <#output_ty as #rt::__private::HandlerResult>::Ok,
            #rt::Diagnostic,
        > {
            let (__payload, __context) = __event.into_parts();
            match #name(__payload, __context #state_arg).await {
                ::core::result::Result::Ok(__value) => ::core::result::Result::Ok(__value),
                ::core::result::Result::Err(__error) => ::core::result::Result::Err(#handler_error),
            }
        }
    };
    let started = match &args.init {
        None => quote! {
            let __started = match #rt::__private::start().await {
                ::core::result::Result::Ok(__started) => __started,
                ::core::result::Result::Err(__error) => return ::core::result::Result::Err(__error),
            };
            let __state = ::std::sync::Arc::new(());
        },
        Some(init) => {
            let init_error = to_diagnostic(quote!(__error));
            // `init`'s output as a `Result`, checked where `init = ...` is written.
            let init_output = quote_spanned! {init.span()=>
                #rt::__private::init_result(#init().await)
            };
            quote! {
                let __init = #rt::__private::start_with_init(|| async {
                    match #init_output {
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
                // `init`'s state against the handler's state argument: a mismatch is reported
                // here, at that argument.
                let __state: #state_ty = __state;
            }
        }
    };
    let main_span = Span::call_site();
    let main = quote_spanned! {main_span=>
        fn main() {
            #invoke
            let __event_type = #event_type;
            let __response_type = #response_type;
            #rt::__private::main(#runtime, async move {
                #started
                let __service = #rt::__private::HandlerService::new(__firebox_invoke, __state);
                #[allow(unused_imports)]
                use #rt::__private::{ServeConcurrent as _, ServeOneAtATime as _};
                let __launch =
                    #rt::__private::Launch::new(__started, __service, __event_type, __response_type);
                // The borrow picks the loop: concurrent when the service and its future are
                // `Send`, else one at a time.
                #[allow(clippy::needless_borrow)]
                let __serving = (&__launch).launch();
                __serving.await
            })
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
