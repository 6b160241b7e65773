//! The attributes on token streams: the expansion's shape and every error
//! message. (A compile-fail test through rustc would need weft built a
//! second time; these check the same messages in milliseconds.)

use proc_macro2::TokenStream;
use quote::quote;

use crate::args::Kind;
use crate::expand::expand;

fn expand_str(kind: Kind, args: TokenStream, item: TokenStream) -> String {
    expand(kind, args, item).to_string()
}

/// The messages of the `compile_error!`s in an expansion.
fn errors(kind: Kind, args: TokenStream, item: TokenStream) -> Vec<String> {
    let out = expand(kind, args, item);
    let file: syn::File = syn::parse2(out).expect("the expansion parses");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(m) if m.mac.path.segments.last().unwrap().ident == "compile_error" => {
                Some(m.mac.parse_body::<syn::LitStr>().unwrap().value())
            }
            _ => None,
        })
        .collect()
}

fn one_error(kind: Kind, args: TokenStream, item: TokenStream) -> String {
    let errors = errors(kind, args, item);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

fn main_fn() -> TokenStream {
    quote! { async fn main() {} }
}

#[test]
fn main_uses_the_default_runtime_unless_told() {
    let out = expand_str(Kind::Main, quote!(), main_fn());
    assert!(out.contains(":: weft :: Runtime :: new ()"), "{out}");
    assert!(!out.contains("worker_threads"), "{out}");
    let out = expand_str(Kind::Main, quote!(worker_threads = 3), main_fn());
    assert!(
        out.contains(":: weft :: Runtime :: builder () . worker_threads (3usize) . build ()"),
        "{out}"
    );
}

#[test]
fn the_outer_function_is_not_async_and_keeps_the_signature() {
    let out = expand(
        Kind::Main,
        quote!(),
        quote! {
            #[allow(unused)]
            async fn main() -> Result<(), String> { Err("x".into()) }
        },
    );
    let outer: syn::ItemFn = syn::parse2(out).unwrap();
    assert!(outer.sig.asyncness.is_none());
    assert_eq!(outer.sig.ident, "main");
    assert_eq!(outer.attrs.len(), 1, "the user's attribute stays");
    let ret = &outer.sig.output;
    assert_eq!(quote!(#ret).to_string(), "-> Result < () , String >");
    // The body holds the user's function, still async, as an inner item.
    let inner = outer
        .block
        .stmts
        .iter()
        .find_map(|s| match s {
            syn::Stmt::Item(syn::Item::Fn(f)) => Some(f),
            _ => None,
        })
        .expect("an inner fn");
    assert!(inner.sig.asyncness.is_some());
}

#[test]
fn test_adds_test_first_one_worker_by_default_and_keeps_attributes() {
    let out = expand(
        Kind::Test,
        quote!(),
        quote! {
            #[should_panic(expected = "boom")]
            async fn t() { panic!("boom") }
        },
    );
    let outer: syn::ItemFn = syn::parse2(out.clone()).unwrap();
    let attrs: Vec<String> = outer.attrs.iter().map(|a| quote!(#a).to_string()).collect();
    assert_eq!(attrs[0], "# [:: core :: prelude :: v1 :: test]");
    assert!(attrs[1].starts_with("# [should_panic"), "{attrs:?}");
    assert!(out.to_string().contains("worker_threads (1usize)"), "{out}");
    let out = expand_str(
        Kind::Test,
        quote!(worker_threads = 2),
        quote!(
            async fn t() {}
        ),
    );
    assert!(out.contains("worker_threads (2usize)"), "{out}");
}

#[test]
fn crate_override() {
    let out = expand_str(Kind::Main, quote!(crate = "my_weft"), main_fn());
    assert!(out.contains("my_weft :: Runtime :: new ()"), "{out}");
    assert!(!out.contains(":: weft"), "{out}");
}

#[test]
fn missing_async() {
    let msg = one_error(
        Kind::Main,
        quote!(),
        quote!(
            fn main() {}
        ),
    );
    assert!(
        msg.starts_with("the `async` keyword is missing from the function declaration"),
        "{msg}"
    );
    let msg = one_error(
        Kind::Test,
        quote!(),
        quote!(
            fn t() {}
        ),
    );
    assert!(msg.contains("#[weft::test] needs `async fn t`"), "{msg}");
}

#[test]
fn unknown_arguments_suggest_worker_threads() {
    let msg = one_error(Kind::Main, quote!(workers = 2), main_fn());
    assert_eq!(
        msg,
        "unknown argument `workers`: did you mean `worker_threads`?"
    );
    let msg = one_error(
        Kind::Test,
        quote!(threads = 2),
        quote!(
            async fn t() {}
        ),
    );
    assert!(msg.contains("did you mean `worker_threads`?"), "{msg}");
    let msg = one_error(Kind::Main, quote!(flavor = "current_thread"), main_fn());
    assert!(msg.contains("worker_threads = 1"), "{msg}");
    let msg = one_error(Kind::Main, quote!(speed = 9), main_fn());
    assert_eq!(
        msg,
        "unknown argument `speed`: #[weft::main] takes `worker_threads = N` (and `crate = \"path\"`)"
    );
}

#[test]
fn worker_threads_must_be_a_positive_integer() {
    for args in [
        quote!(worker_threads = "2"),
        quote!(worker_threads = 1.5),
        quote!(worker_threads = -1),
        quote!(worker_threads = N),
        quote!(worker_threads),
    ] {
        let msg = one_error(Kind::Main, args.clone(), main_fn());
        assert_eq!(
            msg, "`worker_threads` takes a positive integer, such as `worker_threads = 2`",
            "{args}"
        );
    }
    let msg = one_error(
        Kind::Test,
        quote!(worker_threads = 0),
        quote!(
            async fn t() {}
        ),
    );
    assert_eq!(msg, "`worker_threads` must be at least 1");
    let msg = one_error(
        Kind::Main,
        quote!(worker_threads = 1, worker_threads = 2),
        main_fn(),
    );
    assert_eq!(msg, "`worker_threads` is given twice");
}

#[test]
fn arguments_generics_and_a_second_test_attribute_are_refused() {
    let msg = one_error(
        Kind::Main,
        quote!(),
        quote!(
            async fn main(x: u8) {}
        ),
    );
    assert_eq!(msg, "the `main` function cannot take arguments");
    let msg = one_error(
        Kind::Test,
        quote!(),
        quote!(
            async fn t(x: u8) {}
        ),
    );
    assert_eq!(msg, "a test function cannot take arguments");
    let msg = one_error(
        Kind::Test,
        quote!(),
        quote!(
            async fn t<T>() {}
        ),
    );
    assert_eq!(msg, "a test function cannot be generic");
    let msg = one_error(
        Kind::Test,
        quote!(),
        quote!(
            #[test]
            async fn t() {}
        ),
    );
    assert_eq!(msg, "#[weft::test] already adds `#[test]`: remove this one");
    let msg = one_error(
        Kind::Main,
        quote!(),
        quote!(
            struct S;
        ),
    );
    assert_eq!(msg, "#[weft::main] goes on an `async fn`");
}

#[test]
fn after_an_error_the_function_stays_but_not_async() {
    let out = expand(Kind::Main, quote!(bogus), main_fn());
    let file: syn::File = syn::parse2(out).unwrap();
    let stand_in = file
        .items
        .iter()
        .find_map(|i| match i {
            syn::Item::Fn(f) => Some(f),
            _ => None,
        })
        .expect("a stand-in main");
    assert!(stand_in.sig.asyncness.is_none());
}
