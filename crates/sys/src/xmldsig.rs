//! The one place that calls xmlsec and libxml2 directly: the IdP's verification
//! key parsed once per metadata load, a signature context confined to
//! same-document references and to the transforms of the SAML profile, and a
//! process-wide lock that keeps libxml2 and xmlsec from opening files or sockets.
//!
//! `profile` has already accepted the document's shape before anything here
//! runs; these confinements are the second wall, for the day the first has a gap.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr::{NonNull, null, null_mut};
use std::sync::OnceLock;

use openssl::x509::X509;

#[allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::pedantic
)]
mod ffi {
    include!(concat!(env!("OUT_DIR"), "/xmlsec_bindings.rs"));
}

const DSIG_NS: &CStr = c"http://www.w3.org/2000/09/xmldsig#";
const ASSERTION_NS: &CStr = c"urn:oasis:names:tc:SAML:2.0:assertion";

/// Why a signature did not verify. Only the kind matters to callers: every one
/// of them is a refusal.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsigError {
    #[error("libxml2 could not parse the document")]
    Parse,
    #[error("the expected ds:Signature is not where the profile check found it")]
    SignatureMissing,
    #[error("no key from the IdP's metadata verifies the signature")]
    Invalid,
}

/// Where a signature sits: directly under the Response, or under its Assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureSite {
    Response,
    Assertion,
}

/// The signature algorithms and digests accepted; anything else is not even
/// known to the context (no SHA-1, no DSA, no HMAC).
fn enabled_signature_methods() -> [ffi::xmlSecTransformId; 6] {
    // SAFETY: the GetKlass functions return pointers to static descriptors.
    unsafe {
        [
            ffi::xmlSecOpenSSLTransformRsaSha256GetKlass(),
            ffi::xmlSecOpenSSLTransformRsaSha384GetKlass(),
            ffi::xmlSecOpenSSLTransformRsaSha512GetKlass(),
            ffi::xmlSecOpenSSLTransformEcdsaSha256GetKlass(),
            ffi::xmlSecOpenSSLTransformEcdsaSha384GetKlass(),
            ffi::xmlSecOpenSSLTransformEcdsaSha512GetKlass(),
        ]
    }
}

fn enabled_digests() -> [ffi::xmlSecTransformId; 3] {
    // SAFETY: as above.
    unsafe {
        [
            ffi::xmlSecOpenSSLTransformSha256GetKlass(),
            ffi::xmlSecOpenSSLTransformSha384GetKlass(),
            ffi::xmlSecOpenSSLTransformSha512GetKlass(),
        ]
    }
}

/// An IdP signing key, parsed once from its certificate (only the public key is
/// kept; the certificate's other fields play no part in a verification).
pub struct VerificationKey {
    key: NonNull<ffi::_xmlSecKey>,
}

// SAFETY: after construction the key is only read, by `xmlSecKeyDuplicate`,
// which takes a new reference to the OpenSSL key and leaves the source as is.
unsafe impl Send for VerificationKey {}
// SAFETY: see `Send`; no method takes `&mut self` or mutates through `&self`.
unsafe impl Sync for VerificationKey {}

impl VerificationKey {
    pub fn from_certificate_der(der: &[u8]) -> Result<Self, String> {
        confine_process(der)?;
        let public_key = X509::from_der(der)
            .and_then(|cert| cert.public_key())
            .and_then(|key| key.public_key_to_der())
            .map_err(|e| format!("the IdP signing certificate cannot be read: {e}"))?;
        let size = std::ffi::c_uint::try_from(public_key.len())
            .map_err(|_| "the IdP signing key is too large".to_owned())?;
        // SAFETY: the buffer outlives the call; xmlsec copies what it keeps.
        let key = unsafe {
            ffi::xmlSecOpenSSLAppKeyLoadMemory(
                public_key.as_ptr(),
                size,
                ffi::xmlSecKeyDataFormat_xmlSecKeyDataFormatDer,
                null(),
                null_mut(),
                null_mut(),
            )
        };
        NonNull::new(key)
            .map(|key| Self { key })
            .ok_or_else(|| "xmlsec cannot load the IdP signing key".to_owned())
    }
}

impl Drop for VerificationKey {
    fn drop(&mut self) {
        // SAFETY: we own the key and nothing else frees it.
        unsafe { ffi::xmlSecKeyDestroy(self.key.as_ptr()) }
    }
}

/// Verifies the signature at each site with one of `keys` and returns, per site,
/// the exclusive-canonical form of what that signature covers (the signed element
/// without its enveloped signature): the only text the caller may read.
pub fn verify(
    xml: &str,
    sites: &[SignatureSite],
    keys: &[VerificationKey],
) -> Result<Vec<String>, DsigError> {
    let document = Document::parse(xml)?;
    let mut signed = Vec::with_capacity(sites.len());
    for site in sites {
        let signature = document.signature(*site)?;
        let predigest = keys
            .iter()
            .find_map(|key| verify_one(signature, key))
            .ok_or(DsigError::Invalid)?;
        signed.push(predigest);
    }
    Ok(signed)
}

/// One verification in a context that knows only the SAML profile: a key of
/// ours (KeyInfo is never read), same-document references, enveloped-signature
/// and exclusive c14n, the allowed digests and signature methods.
fn verify_one(signature: NonNull<ffi::xmlNode>, key: &VerificationKey) -> Option<String> {
    let context = Context::new()?;
    let ctx = context.0.as_ptr();
    // SAFETY: `ctx` is a live context we own; the transform ids are static; the
    // duplicated key is handed over to the context, which destroys it.
    unsafe {
        (*ctx).flags |= ffi::XMLSEC_DSIG_FLAGS_STORE_SIGNEDINFO_REFERENCES;
        (*ctx).enabledReferenceUris = ffi::xmlSecTransformUriTypeSameDocument;
        let reference_transforms = [
            ffi::xmlSecTransformEnvelopedGetKlass(),
            ffi::xmlSecTransformExclC14NGetKlass(),
        ];
        for id in reference_transforms.into_iter().chain(enabled_digests()) {
            if ffi::xmlSecDSigCtxEnableReferenceTransform(ctx, id) < 0 {
                return None;
            }
        }
        let signature_transforms = std::iter::once(ffi::xmlSecTransformExclC14NGetKlass())
            .chain(enabled_signature_methods());
        for id in signature_transforms {
            if ffi::xmlSecDSigCtxEnableSignatureTransform(ctx, id) < 0 {
                return None;
            }
        }
        let duplicate = ffi::xmlSecKeyDuplicate(key.key.as_ptr());
        if duplicate.is_null() {
            return None;
        }
        (*ctx).signKey = duplicate;
        if ffi::xmlSecDSigCtxVerify(ctx, signature.as_ptr()) < 0
            || (*ctx).status != ffi::xmlSecDSigStatus_xmlSecDSigStatusSucceeded
        {
            return None;
        }
        let references = &raw mut (*ctx).signedInfoReferences;
        if ffi::xmlSecPtrListGetSize(references) != 1 {
            return None;
        }
        let reference = ffi::xmlSecPtrListGetItem(references, 0) as ffi::xmlSecDSigReferenceCtxPtr;
        if reference.is_null()
            || (*reference).status != ffi::xmlSecDSigStatus_xmlSecDSigStatusSucceeded
        {
            return None;
        }
        let buffer = ffi::xmlSecDSigReferenceCtxGetPreDigestBuffer(reference);
        if buffer.is_null() {
            return None;
        }
        let data = ffi::xmlSecBufferGetData(buffer);
        let size = usize::try_from(ffi::xmlSecBufferGetSize(buffer)).ok()?;
        if data.is_null() || size == 0 {
            return None;
        }
        let bytes = std::slice::from_raw_parts(data, size);
        String::from_utf8(bytes.to_vec()).ok()
    }
}

/// A signature context, destroyed with whatever it holds (the key included).
struct Context(NonNull<ffi::xmlSecDSigCtx>);

impl Context {
    fn new() -> Option<Self> {
        // SAFETY: no keys manager: the key is set by hand, KeyInfo is never used.
        NonNull::new(unsafe { ffi::xmlSecDSigCtxCreate(null_mut()) }).map(Self)
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: created by `xmlSecDSigCtxCreate`, destroyed once.
        unsafe { ffi::xmlSecDSigCtxDestroy(self.0.as_ptr()) }
    }
}

/// A libxml2 document parsed from memory with the network off, no entity
/// substitution and no DTD loading; the `ID` attributes registered so that
/// `#id` references resolve (the profile check made sure each ID is unique).
struct Document(NonNull<ffi::xmlDoc>);

impl Document {
    fn parse(xml: &str) -> Result<Self, DsigError> {
        let length = c_int::try_from(xml.len()).map_err(|_| DsigError::Parse)?;
        let options = (ffi::xmlParserOption_XML_PARSE_NONET
            | ffi::xmlParserOption_XML_PARSE_NOERROR
            | ffi::xmlParserOption_XML_PARSE_NOWARNING) as c_int;
        // The text is UTF-8 (a Rust string), as the profile check read it: an
        // `encoding` in the XML declaration must not make libxml2 read it otherwise.
        // SAFETY: libxml2 reads `length` bytes of `xml` and copies what it keeps.
        let document = unsafe {
            ffi::xmlReadMemory(
                xml.as_ptr().cast::<c_char>(),
                length,
                null(),
                c"UTF-8".as_ptr(),
                options,
            )
        };
        let document = Self(NonNull::new(document).ok_or(DsigError::Parse)?);
        let root = document.root()?;
        let mut id_attributes: [*const ffi::xmlChar; 2] = [c"ID".as_ptr().cast(), null()];
        // SAFETY: the document and root are live; the list is NULL-terminated.
        unsafe {
            ffi::xmlSecAddIDs(
                document.0.as_ptr(),
                root.as_ptr(),
                id_attributes.as_mut_ptr(),
            )
        };
        Ok(document)
    }

    fn root(&self) -> Result<NonNull<ffi::xmlNode>, DsigError> {
        // SAFETY: the document is live.
        NonNull::new(unsafe { ffi::xmlDocGetRootElement(self.0.as_ptr()) }).ok_or(DsigError::Parse)
    }

    fn signature(&self, site: SignatureSite) -> Result<NonNull<ffi::xmlNode>, DsigError> {
        let root = self.root()?;
        let parent = match site {
            SignatureSite::Response => root,
            SignatureSite::Assertion => child(root, c"Assertion", ASSERTION_NS)?,
        };
        child(parent, c"Signature", DSIG_NS)
    }
}

impl Drop for Document {
    fn drop(&mut self) {
        // SAFETY: parsed by `xmlReadMemory`, freed once.
        unsafe { ffi::xmlFreeDoc(self.0.as_ptr()) }
    }
}

fn child(
    parent: NonNull<ffi::xmlNode>,
    name: &CStr,
    namespace: &CStr,
) -> Result<NonNull<ffi::xmlNode>, DsigError> {
    // SAFETY: `parent` belongs to a live document; the names are NUL-terminated.
    let found = unsafe {
        ffi::xmlSecFindChild(
            parent.as_ptr(),
            name.as_ptr().cast(),
            namespace.as_ptr().cast(),
        )
    };
    NonNull::new(found).ok_or(DsigError::SignatureMissing)
}

/// Runs once per process, before the first key is loaded: xmlsec is initialised
/// (through samael, so that it never initialises a second time and undoes this),
/// then every way libxml2 and xmlsec have of reaching outside the process is
/// taken away: xmlsec's URI handlers are removed, libxml2's input handlers are
/// replaced by one that refuses every URI, and external entities never load.
/// xmlsec's error messages, which an attacker can cause at will, stay off stderr.
static CONFINED: OnceLock<Result<(), String>> = OnceLock::new();

fn confine_process(any_certificate_der: &[u8]) -> Result<(), String> {
    CONFINED
        .get_or_init(|| {
            initialise_xmlsec_through_samael(any_certificate_der);
            // SAFETY: plain calls into the libraries' global registration
            // functions, made once, before any verification runs.
            unsafe {
                ffi::xmlSecIOCleanupCallbacks();
                ffi::xmlCleanupInputCallbacks();
                if ffi::xmlRegisterInputCallbacks(
                    Some(match_every_uri),
                    Some(open_nothing),
                    Some(read_nothing),
                    Some(close_nothing),
                ) < 0
                {
                    return Err("libxml2 refused the input lock".to_owned());
                }
                ffi::xmlSetExternalEntityLoader(Some(load_no_entity));
                ffi::xmlSecErrorsSetCallback(Some(quiet));
            }
            Ok(())
        })
        .clone()
}

/// samael keeps xmlsec's global set-up to itself and performs it on first use;
/// a verification that cannot succeed (a document with no signature) is that use.
fn initialise_xmlsec_through_samael(certificate_der: &[u8]) {
    use samael::crypto::{CertificateDer, Crypto, CryptoProvider};
    let certificate = CertificateDer::from(certificate_der.to_vec());
    let _expected_failure = Crypto::verify_signed_xml("<x/>", &certificate, None);
}

/// Whether the process-wide lock is in place.
#[cfg(test)]
pub fn process_is_confined() -> bool {
    matches!(CONFINED.get(), Some(Ok(())))
}

unsafe extern "C" fn match_every_uri(_uri: *const c_char) -> c_int {
    1
}

unsafe extern "C" fn open_nothing(_uri: *const c_char) -> *mut c_void {
    null_mut()
}

unsafe extern "C" fn read_nothing(
    _context: *mut c_void,
    _buffer: *mut c_char,
    _len: c_int,
) -> c_int {
    -1
}

unsafe extern "C" fn close_nothing(_context: *mut c_void) -> c_int {
    0
}

unsafe extern "C" fn load_no_entity(
    _url: *const c_char,
    _id: *const c_char,
    _context: ffi::xmlParserCtxtPtr,
) -> ffi::xmlParserInputPtr {
    null_mut()
}

unsafe extern "C" fn quiet(
    _file: *const c_char,
    _line: c_int,
    _func: *const c_char,
    _error_object: *const c_char,
    _error_subject: *const c_char,
    _reason: c_int,
    _message: *const c_char,
) {
}

#[cfg(test)]
#[path = "xmldsig_tests.rs"]
mod tests;
