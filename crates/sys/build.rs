//! Generates bindings to the handful of libxml2/xmlsec functions that the
//! confined SAML signature verifier needs (samael keeps its own bindings private).
//! The list is an allow-list: nothing else of either library is reachable.

use std::env;
use std::path::PathBuf;

const HEADER: &str = "src/xmlsec.h";

const FUNCTIONS: &[&str] = &[
    "xmlReadMemory",
    "xmlFreeDoc",
    "xmlDocGetRootElement",
    "xmlCleanupInputCallbacks",
    "xmlRegisterInputCallbacks",
    "xmlSetExternalEntityLoader",
    "xmlSecIOCleanupCallbacks",
    "xmlSecErrorsSetCallback",
    "xmlSecAddIDs",
    "xmlSecFindChild",
    "xmlSecKeyDuplicate",
    "xmlSecKeyDestroy",
    "xmlSecOpenSSLAppKeyLoadMemory",
    "xmlSecDSigCtxCreate",
    "xmlSecDSigCtxDestroy",
    "xmlSecDSigCtxVerify",
    "xmlSecDSigCtxEnableReferenceTransform",
    "xmlSecDSigCtxEnableSignatureTransform",
    "xmlSecDSigReferenceCtxGetPreDigestBuffer",
    "xmlSecPtrListGetSize",
    "xmlSecPtrListGetItem",
    "xmlSecBufferGetData",
    "xmlSecBufferGetSize",
    "xmlSecTransformEnvelopedGetKlass",
    "xmlSecTransformExclC14NGetKlass",
    "xmlSecOpenSSLTransformSha256GetKlass",
    "xmlSecOpenSSLTransformSha384GetKlass",
    "xmlSecOpenSSLTransformSha512GetKlass",
    "xmlSecOpenSSLTransformRsaSha256GetKlass",
    "xmlSecOpenSSLTransformRsaSha384GetKlass",
    "xmlSecOpenSSLTransformRsaSha512GetKlass",
    "xmlSecOpenSSLTransformEcdsaSha256GetKlass",
    "xmlSecOpenSSLTransformEcdsaSha384GetKlass",
    "xmlSecOpenSSLTransformEcdsaSha512GetKlass",
];

fn main() {
    println!("cargo:rerun-if-changed={HEADER}");
    println!("cargo:rerun-if-changed=build.rs");
    let xmlsec = pkg_config::Config::new()
        .probe("xmlsec1-openssl")
        .expect("xmlsec1-openssl not found by pkg-config: run scripts/setup.sh (libxmlsec1-dev)");
    let mut builder = bindgen::Builder::default()
        .header(HEADER)
        .allowlist_type("xmlSecDSigCtx")
        .allowlist_type("xmlSecDSigReferenceCtx")
        .allowlist_var("XMLSEC_DSIG_FLAGS_STORE_SIGNEDINFO_REFERENCES")
        .allowlist_var("xmlSecTransformUriTypeSameDocument")
        .allowlist_type("xmlParserOption")
        .layout_tests(false)
        .generate_comments(false);
    for function in FUNCTIONS {
        builder = builder.allowlist_function(function);
    }
    for path in &xmlsec.include_paths {
        builder = builder.clang_arg(format!("-I{}", path.display()));
    }
    for (name, value) in &xmlsec.defines {
        builder = builder.clang_arg(match value {
            Some(value) => format!("-D{name}={value}"),
            None => format!("-D{name}"),
        });
    }
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    builder
        .generate()
        .expect("bindgen could not read the xmlsec headers (is libclang-dev installed?)")
        .write_to_file(out.join("xmlsec_bindings.rs"))
        .expect("cannot write the xmlsec bindings");
}
