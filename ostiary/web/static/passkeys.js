// Passkeys on Ostiary's pages: the WebAuthn calls the server cannot make. No dependencies, no
// build step. A button with data-passkey="get" or "create" asks data-options (POST, with the
// fields of its form) for the ceremony's options, calls navigator.credentials, then submits its
// form with the challenge id and the credential as JSON.
(function () {
  "use strict";

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    return options;
  }

  function encode(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      out.response.userHandle = response.userHandle ? toText(response.userHandle) : null;
    }
    return out;
  }

  function run(button) {
    var form = button.closest("form");
    var problem = form.querySelector("[data-passkey-error]");
    if (problem) problem.hidden = true;
    function fail() {
      if (problem) problem.hidden = false;
      button.disabled = false;
    }
    if (!window.PublicKeyCredential) return fail();
    button.disabled = true;
    fetch(button.dataset.options, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin"
    })
      .then(function (answer) {
        if (!answer.ok) throw new Error("options refused");
        return answer.json();
      })
      .then(function (ceremony) {
        form.elements.challenge.value = ceremony.challenge_id;
        if (button.dataset.passkey === "create") {
          return navigator.credentials.create({ publicKey: creationOptions(ceremony.options) });
        }
        return navigator.credentials.get({ publicKey: requestOptions(ceremony.options) });
      })
      .then(function (credential) {
        form.elements.credential.value = JSON.stringify(encode(credential));
        form.submit();
      })
      .catch(fail);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-passkey]");
    if (button) {
      event.preventDefault();
      run(button);
    }
  });
})();
