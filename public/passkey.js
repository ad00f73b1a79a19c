// The browser's half of passkeys (WebAuthn): turns the console's options (JSON, binary fields
// in base64url) into what navigator.credentials expects, and the credential it returns into
// JSON for the console. `create(json)` and `get(json)` resolve to that JSON text; the Rust
// components call them and send the text to the server functions.
(() => {
  const fromB64 = (s) => {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0)).buffer;
  };
  const toB64 = (buf) =>
    btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const ids = (list) => (list || []).map((c) => ({ ...c, id: fromB64(c.id) }));
  const supported = () => !!(window.PublicKeyCredential && navigator.credentials);

  window.hostguardPasskey = {
    supported,
    async create(json) {
      if (!supported()) throw new Error("This browser cannot use passkeys.");
      const pk = JSON.parse(json).publicKey;
      const publicKey = {
        ...pk,
        challenge: fromB64(pk.challenge),
        user: { ...pk.user, id: fromB64(pk.user.id) },
        excludeCredentials: ids(pk.excludeCredentials),
      };
      delete publicKey.hints;
      const cred = await navigator.credentials.create({ publicKey });
      return JSON.stringify({
        id: cred.id,
        rawId: toB64(cred.rawId),
        type: cred.type,
        response: {
          attestationObject: toB64(cred.response.attestationObject),
          clientDataJSON: toB64(cred.response.clientDataJSON),
          transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
        },
        extensions: cred.getClientExtensionResults(),
      });
    },
    async get(json) {
      if (!supported()) throw new Error("This browser cannot use passkeys.");
      const pk = JSON.parse(json).publicKey;
      const publicKey = { ...pk, challenge: fromB64(pk.challenge), allowCredentials: ids(pk.allowCredentials) };
      delete publicKey.hints;
      const cred = await navigator.credentials.get({ publicKey });
      const r = cred.response;
      return JSON.stringify({
        id: cred.id,
        rawId: toB64(cred.rawId),
        type: cred.type,
        response: {
          authenticatorData: toB64(r.authenticatorData),
          clientDataJSON: toB64(r.clientDataJSON),
          signature: toB64(r.signature),
          userHandle: r.userHandle ? toB64(r.userHandle) : null,
        },
        extensions: cred.getClientExtensionResults(),
      });
    },
  };
})();
