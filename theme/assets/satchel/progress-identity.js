/* A learner's key on the device (docs/security.md; the hub's twin is hub/identity.py): a P-256
 * key pair made with WebCrypto, its private half non-extractable and kept in IndexedDB (store
 * 'keys'), so it never leaves the device, not even in a saved file.
 *  - a learner made with a key has an id derived from it (a version-8 UUID);
 *  - each statement id is bound to the key: 60 random bits, then 60 bits of the hash of the key
 *    and those bits;
 *  - a progress file is signed: its JSON text ends with ,"signature":"..."} and the signature is
 *    over the same text without that member, byte for byte.
 * Used by the pages and the service worker alike. */
(function (global) {
  'use strict';
  var subtle = global.crypto && global.crypto.subtle;
  var ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
  var SIGNING = { name: 'ECDSA', hash: 'SHA-256' };
  var SIGNATURE_RE = /,"signature":"([A-Za-z0-9_-]{86})"\}\s*$/;

  function b64url(bytes) {
    var text = '';
    var view = new Uint8Array(bytes);
    for (var i = 0; i < view.length; i++) text += String.fromCharCode(view[i]);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function unb64url(text) {
    var raw = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function hex(bytes) {
    return Array.prototype.map.call(new Uint8Array(bytes), function (b) { return (b < 16 ? '0' : '') + b.toString(16); }).join('');
  }

  async function sha256hex(text) { return hex(await subtle.digest('SHA-256', new TextEncoder().encode(text))); }

  function uuid8(hex32) {
    return hex32.slice(0, 8) + '-' + hex32.slice(8, 12) + '-' + hex32.slice(12, 16) + '-' + hex32.slice(16, 20) + '-' + hex32.slice(20, 32);
  }

  /* A new key pair: {privateKey (a CryptoKey nobody can read), publicKey (base64url, raw point)}. */
  async function makeKey() {
    var pair = await subtle.generateKey(ALGORITHM, false, ['sign', 'verify']);
    return { privateKey: pair.privateKey, publicKey: b64url(await subtle.exportKey('raw', pair.publicKey)) };
  }

  async function learnerId(publicKey) {
    var d = await sha256hex('satchel:learner:' + publicKey);
    return uuid8(d.slice(0, 12) + '8' + d.slice(12, 15) + '8' + d.slice(15, 30));
  }

  /* A statement id bound to `publicKey`. */
  async function statementId(publicKey) {
    var nonce = hex(global.crypto.getRandomValues(new Uint8Array(8))).slice(0, 15);
    var tag = (await sha256hex('satchel:statement:' + publicKey + ':' + nonce)).slice(0, 15);
    return uuid8(nonce.slice(0, 12) + '8' + nonce.slice(12, 15) + '8' + tag);
  }

  function isKeyed(id) { return typeof id === 'string' && id.length === 36 && id.charAt(14) === '8'; }

  async function isBound(id, publicKey) {
    var h = id.replace(/-/g, '');
    if (h.charAt(12) !== '8' || h.charAt(16) !== '8') return false;
    return (await sha256hex('satchel:statement:' + publicKey + ':' + h.slice(0, 12) + h.slice(13, 16))).slice(0, 15) === h.slice(17);
  }

  /* The text of `data` (an object without signature) signed by `key` ({privateKey}). */
  async function signedText(data, key) {
    var text = JSON.stringify(data);
    var signature = b64url(await subtle.sign(SIGNING, key.privateKey, new TextEncoder().encode(text)));
    return text.slice(0, -1) + ',"signature":"' + signature + '"}';
  }

  /* Whether a file's text is unsigned (null), rightly signed by its profile.key (true), or not (false). */
  async function checkSignature(text, data) {
    var found = SIGNATURE_RE.exec(text);
    if (!found) return data && data.signature !== undefined ? false : null;
    if (!data.profile || typeof data.profile.key !== 'string') return false;
    try {
      var key = await subtle.importKey('raw', unb64url(data.profile.key), ALGORITHM, false, ['verify']);
      var signed = new TextEncoder().encode(text.slice(0, found.index) + '}');
      return await subtle.verify(SIGNING, key, unb64url(found[1]), signed);
    } catch (error) {
      return false;
    }
  }

  global.satchelIdentity = { available: !!subtle, makeKey: makeKey, learnerId: learnerId, statementId: statementId,
                             isKeyed: isKeyed, isBound: isBound, signedText: signedText, checkSignature: checkSignature };
}(typeof self !== 'undefined' ? self : this));
