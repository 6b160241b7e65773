//! What the attributes turn a function into.
//!
//! ```text
//! #[weft::main(worker_threads = 2)]        fn main() -> T {
//! async fn main() -> T { body }      ==>       async fn main() -> T { body }
//!                                              ::weft::Runtime::builder().worker_threads(2)
//!                                                  .build().expect(..).block_on(main())
//!                                          }
//! ```
//!
//! The user's function stays as it was, an inner item of the same name, so
//! its body type-checks exactly as written (`?` and `return` included) and
//! errors in it point at the user's code. The outer function returns what
//! the body returns, so std's `Termination` does the rest: an `Err` from
//! `main` prints `Error: {err:?}` and exits with 1; an `Err` from a test
//! fails it. `#[weft::test]` puts `#[test]` first and keeps every other
//! attribute (`#[should_panic]`, `#[ignore]`) on the outer function.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::ItemFn;

use crate::args::{self, Args, Kind};

/// The expansion, or the compile errors and a stand-in for the function.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            let error = syn::Error::new_spanned(
                &item,
                format!("{} goes on an `async fn`", kind.attribute()),
            );
            let mut tokens = error.to_compile_error();
            tokens.extend(item);
            return tokens;
        }
    };
    let result = args::parse(kind, args).and_then(|args| {
        check(kind, &item)?;
        Ok(generate(kind, &args, &item))
    });
    match result {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(stand_in(item));
            tokens
        }
    }
}

/// The function's shape: `async`, no parameters, no generics, and for a
/// test no second `#[test]`.
fn check(kind: Kind, item: &ItemFn) -> syn::Result<()> {
    let sig = &item.sig;
    let what = match kind {
        Kind::Main => format!("the `{}` function", sig.ident),
        Kind::Test => "a test function".to_owned(),
    };
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span,
            format!(
                "the `async` keyword is missing from the function declaration: {} needs `async fn {}`",
                kind.attribute(),
                sig.ident
            ),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new(
            sig.inputs.span(),
            format!("{what} cannot take arguments"),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            format!("{what} cannot be generic"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            format!("{what} cannot take arguments"),
        ));
    }
    if kind == Kind::Test {
        if let Some(attr) = item.attrs.iter().find(|a| is_test_attribute(a)) {
            return Err(syn::Error::new_spanned(
                attr,
                "#[weft::test] already adds `#[test]`: remove this one",
            ));
        }
    }
    Ok(())
}

/// `#[test]`, however it is spelled (`test`, `core::prelude::v1::test`, ...).
fn is_test_attribute(attr: &syn::Attribute) -> bool {
    let path = attr.path();
    path.segments.last().is_some_and(|s| s.ident == "test")
        && (path.segments.len() == 1
            || path
                .segments
                .first()
                .is_some_and(|s| s.ident == "core" || s.ident == "std"))
}

fn generate(kind: Kind, args: &Args, item: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = item;
    let krate = &args.krate;
    let name = &sig.ident;
    // The same signature without `async` (no generics or parameters: the
    // check refused them).
    let syn::Signature {
        constness,
        safety,
        abi,
        fn_token,
        output,
        ..
    } = sig;
    let outer = quote! { #constness #safety #abi #fn_token #name() #output };
    // `main` defaults to one worker per core (or `WEFT_WORKER_THREADS`);
    // a test to one worker. An explicit count wins over both.
    let workers = match (kind, args.worker_threads) {
        (_, Some(n)) => Some(n),
        (Kind::Test, None) => Some(1),
        (Kind::Main, None) => None,
    };
    let runtime = match workers {
        Some(n) => quote! { #krate::Runtime::builder().worker_threads(#n).build() },
        None => quote! { #krate::Runtime::new() },
    };
    let expect = format!("{}: could not start the weft runtime", kind.attribute());
    let test = match kind {
        Kind::Test => quote! { #[::core::prelude::v1::test] },
        Kind::Main => TokenStream::new(),
    };
    quote! {
        #test
        #(#attrs)*
        #vis #outer {
            #sig #block
            // Not `runtime`: the user's function may be called that.
            let __weft_runtime = #runtime.expect(#expect);
            __weft_runtime.block_on(#name())
        }
    }
}

/// What stands in for the function after an error: not `async` (so rustc
/// adds no "`main` cannot be async" of its own) and with an empty body (so
/// it adds no type errors either). The attribute's error is the one to fix.
fn stand_in(mut item: ItemFn) -> TokenStream {
    item.sig.asyncness = None;
    *item.block = syn::parse_quote!({ ::core::unreachable!() });
    item.to_token_stream()
}
