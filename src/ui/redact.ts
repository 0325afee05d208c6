// URL redaction lives in src/core (FledgeError applies it); kept here for older imports.
export { redactUrl, redactUrls } from "../core/redact.ts";
