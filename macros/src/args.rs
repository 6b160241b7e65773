//! The attribute's arguments: `worker_threads = N` and `crate = "path"`.
//!
//! Each mistake becomes a `syn::Error` spanned on the user's tokens, so the
//! compiler points at the argument that is wrong.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::{Expr, ExprLit, Lit, LitStr, Path};

/// Which attribute is being expanded; it names itself in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    /// `#[weft::main]` or `#[weft::test]`, for messages.
    pub(crate) fn attribute(self) -> &'static str {
        match self {
            Kind::Main => "#[weft::main]",
            Kind::Test => "#[weft::test]",
        }
    }
}

/// The parsed arguments.
pub(crate) struct Args {
    /// `worker_threads = N`, at least 1; `None` leaves the default.
    pub(crate) worker_threads: Option<usize>,
    /// Where the generated code finds weft: `::weft` unless
    /// `crate = "..."` says otherwise (for a crate that renames weft).
    pub(crate) krate: Path,
}

/// Parses the tokens between the attribute's parentheses.
pub(crate) fn parse(kind: Kind, tokens: TokenStream) -> syn::Result<Args> {
    let mut worker_threads = None;
    let mut krate = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("worker_threads") {
            if worker_threads.is_some() {
                return Err(meta.error("`worker_threads` is given twice"));
            }
            worker_threads = Some(parse_worker_threads(&meta)?);
            Ok(())
        } else if meta.path.is_ident("crate") {
            if krate.is_some() {
                return Err(meta.error("`crate` is given twice"));
            }
            let lit: LitStr = meta.value()?.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "`crate` takes a path in a string, such as `crate = \"::weft\"`",
                )
            })?;
            krate = Some(lit.parse::<Path>().map_err(|_| {
                syn::Error::new(lit.span(), "`crate` must name a path, such as \"::weft\"")
            })?);
            Ok(())
        } else {
            Err(unknown_argument(kind, &meta))
        }
    });
    parser.parse2(tokens)?;
    Ok(Args {
        worker_threads,
        krate: krate.unwrap_or_else(|| syn::parse_quote!(::weft)),
    })
}

/// `worker_threads = N`: an integer literal, at least 1.
fn parse_worker_threads(meta: &ParseNestedMeta<'_>) -> syn::Result<usize> {
    const USAGE: &str = "`worker_threads` takes a positive integer, such as `worker_threads = 2`";
    if meta.input.is_empty() || meta.input.peek(syn::Token![,]) {
        return Err(meta.error(USAGE));
    }
    let expr: Expr = meta.value()?.parse()?;
    let Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    }) = &expr
    else {
        return Err(syn::Error::new_spanned(expr, USAGE));
    };
    let n: usize = int.base10_parse()?;
    if n == 0 {
        return Err(syn::Error::new(
            int.span(),
            "`worker_threads` must be at least 1",
        ));
    }
    Ok(n)
}

/// The error for an argument we do not know, with a hint.
#[cold]
fn unknown_argument(kind: Kind, meta: &ParseNestedMeta<'_>) -> syn::Error {
    let path = &meta.path;
    let name = quote::quote!(#path).to_string().replace(' ', "");
    let lower = name.to_lowercase();
    let hint = if lower.contains("worker") || lower.contains("thread") {
        "did you mean `worker_threads`?".to_owned()
    } else if lower == "flavor" {
        // tokio's `flavor = "current_thread"`: weft has one flavour.
        "weft has one runtime flavour; for a single thread write `worker_threads = 1`".to_owned()
    } else {
        format!(
            "{} takes `worker_threads = N` (and `crate = \"path\"`)",
            kind.attribute()
        )
    };
    meta.error(format!("unknown argument `{name}`: {hint}"))
}
