/**
 * The secret files and folders of /etc: one list, carved out of the /etc grant. Most
 * are root-only (0600/0640), so they matter when fledge runs as root (containers, CI,
 * servers), where Landlock is the only thing between a plugin and them.
 */
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** /etc entries never granted (relative to /etc). SSH host keys are added by name (ETC_SECRET_FILES). */
export const ETC_SECRETS: readonly string[] = [
  "shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "security/opasswd", "fledge",
  // private keys and certificates' keys
  "ssl/private", "pki/tls/private", "pki/CA/private", "letsencrypt", "cups/ssl", "ipsec.secrets", "ipsec.d/private",
  "swanctl/private", "strongswan.d", "openvpn", "wireguard", "krb5.keytab", "krb5kdc", "docker/key.json",
  // network and service passwords
  "NetworkManager/system-connections", "netplan", "wpa_supplicant", "ppp/chap-secrets", "ppp/pap-secrets",
  "postfix/sasl_passwd", "postfix/sasl_passwd.db", "exim4/passwd.client", "davfs2/secrets", "mysql/debian.cnf",
  "libvirt/secrets", "samba/private", "sssd", "credstore", "credstore.encrypted", "kubernetes", "rancher",
  "gitlab-runner", "gitlab/gitlab-secrets.json", "vault.d", "restic", "borgmatic",
];
/** Secret files found by name pattern in an /etc folder (SSH host private keys: ssh_host_ed25519_key, not .pub). */
const ETC_SECRET_FILES: readonly (readonly [folder: string, name: RegExp])[] = [["ssh", /^ssh_host_.*_key$/]];

/** Every /etc secret that exists (absolute), listed and found by pattern. */
export function etcSecrets(etc = "/etc"): string[] {
  const out = ETC_SECRETS.map((rel) => join(etc, rel));
  for (const [folder, name] of ETC_SECRET_FILES) {
    try {
      for (const f of readdirSync(join(etc, folder))) if (name.test(f)) out.push(join(etc, folder, f));
    } catch {
      // no such folder
    }
  }
  return out;
}

/**
 * The /etc secrets this user could read or enter. One the user cannot reach anyway
 * (/etc/shadow is 0640 root:shadow) needs no carving: Landlock only takes away from
 * what file permissions allow, and the plugin has no capabilities to get round them.
 * With none left (any user but root, usually), /etc is one rule instead of one per
 * entry (a few hundred, each a cost at every start). Root reaches them all: for root
 * they are all carved out.
 */
export function reachableEtcSecrets(etc = "/etc"): string[] {
  const out: string[] = [];
  for (const p of etcSecrets(etc)) {
    try {
      accessSync(p, constants.R_OK);
      out.push(p);
      continue;
    } catch {
      // not readable: maybe a folder it may enter (files inside read by name)
    }
    try {
      if (statSync(p).isDirectory()) {
        accessSync(p, constants.X_OK);
        out.push(p);
      }
    } catch {
      // missing, or closed to this user
    }
  }
  return out;
}
