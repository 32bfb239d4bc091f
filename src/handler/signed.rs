//! Queries carrying a TSIG (RFC 8945): verified before they are answered, answers signed.

use hickory_proto::op::Message;
use tracing::{debug, warn};

use super::request::Request;
use super::{Handler, response};

impl Handler {
    /// A query with a TSIG (RFC 8945 §5.2, as BIND and Knot do; `nsupdate -k` signs the SOA
    /// query that finds the zone): the signature is checked against the keys we know before
    /// the query is answered (a failure is NOTAUTH with the TSIG error, or FORMERR), and the
    /// answer is signed with the same key, room for the TSIG kept under the size limit. With no
    /// keys configured every signature is BADKEY.
    pub(super) async fn handle_signed(&self, bytes: &[u8], req: &Request) -> Option<Vec<u8>> {
        let payload = self.config.edns_payload;
        // Parsed once already by `Request::parse`; signed queries are rare enough to do it again.
        let message = Message::from_vec(bytes).ok()?;
        let none = crate::tsig::Keyring::default();
        let keyring = self.keyring().unwrap_or(&none);
        let now = crate::tsig::now_unix();
        let verified = crate::tsig::verify(bytes, &message, keyring, now);
        let limit = response::size_limit(req, payload).saturating_sub(verified.tsig_len());
        let answer = match verified.rcode() {
            Some(rcode) => {
                debug!(?verified, "query with a bad TSIG");
                response::encode(response::with_rcode(req, payload, rcode), limit, false)
            }
            None => {
                let res = self.handle(req).await;
                response::encode(res.message, limit, res.optional_authority)
            }
        };
        match crate::tsig::sign_response(answer, &verified, now) {
            Ok(signed) => Some(signed),
            Err(e) => {
                warn!(error = %e, "cannot sign a response; sending nothing");
                None
            }
        }
    }
}
