/**
 * @module edge/setup/mobileconfig
 * An Apple configuration profile (.mobileconfig) for one account: mail
 * (IMAP + SMTP submission over implicit TLS), CalDAV and CardDAV. No password
 * is put in the profile; the device asks for it. The UUIDs derive from the
 * address, so installing a newer profile replaces the old one.
 */
import { xml } from './xml.js';
import type { ClientSetup } from './autoconfig.js';

async function uuidFor(text: string): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  h[6] = (h[6] & 0x0f) | 0x50; // name-based (version 5 layout, SHA-256 instead of SHA-1)
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = [...h.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`.toUpperCase();
}

type Value = string | number | boolean;

function dict(entries: Record<string, Value>): string {
  return `    <dict>\n${Object.entries(entries)
    .map(([k, v]) => `      <key>${xml(k)}</key>\n      ${typeof v === 'boolean' ? `<${v}/>` : typeof v === 'number' ? `<integer>${v}</integer>` : `<string>${xml(v)}</string>`}`)
    .join('\n')}\n    </dict>`;
}

/** The reverse-DNS identifier prefix for the domain, e.g. com.example.mail. */
function idPrefix(domain: string): string {
  return `${domain.split('.').reverse().join('.')}.haven`;
}

export async function appleProfile(s: ClientSetup, address: string): Promise<string> {
  const id = idPrefix(s.domain);
  const common = async (type: string, name: string) => ({
    PayloadType: type,
    PayloadVersion: 1,
    PayloadIdentifier: `${id}.${name}.${address}`,
    PayloadUUID: await uuidFor(`${type} ${address}`),
    PayloadDisplayName: `${name} ${address}`,
  });
  const mail = dict({
    ...(await common('com.apple.mail.managed', 'Mail')),
    EmailAccountDescription: address,
    EmailAccountName: address,
    EmailAccountType: 'EmailTypeIMAP',
    EmailAddress: address,
    IncomingMailServerAuthentication: 'EmailAuthPassword',
    IncomingMailServerHostName: s.mailHost,
    IncomingMailServerPortNumber: s.ports.imaps,
    IncomingMailServerUseSSL: true,
    IncomingMailServerUsername: address,
    OutgoingMailServerAuthentication: 'EmailAuthPassword',
    OutgoingMailServerHostName: s.mailHost,
    OutgoingMailServerPortNumber: s.ports.submissions,
    OutgoingMailServerUseSSL: true,
    OutgoingMailServerUsername: address,
    OutgoingPasswordSameAsIncomingPassword: true,
  });
  const caldav = dict({
    ...(await common('com.apple.caldav.account', 'Calendar')),
    CalDAVAccountDescription: `Calendar ${address}`,
    CalDAVHostName: s.mailHost,
    CalDAVPort: s.ports.https,
    CalDAVUseSSL: true,
    CalDAVUsername: address,
  });
  const carddav = dict({
    ...(await common('com.apple.carddav.account', 'Contacts')),
    CardDAVAccountDescription: `Contacts ${address}`,
    CardDAVHostName: s.mailHost,
    CardDAVPort: s.ports.https,
    CardDAVUseSSL: true,
    CardDAVUsername: address,
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadContent</key>
  <array>
${mail}
${caldav}
${carddav}
  </array>
  <key>PayloadDisplayName</key>
  <string>${xml(address)} (Haven)</string>
  <key>PayloadDescription</key>
  <string>Mail, calendars and contacts for ${xml(address)}. Your device asks for the password.</string>
  <key>PayloadIdentifier</key>
  <string>${xml(`${id}.profile.${address}`)}</string>
  <key>PayloadType</key>
  <string>Configuration</string>
  <key>PayloadUUID</key>
  <string>${await uuidFor(`profile ${address}`)}</string>
  <key>PayloadVersion</key>
  <integer>1</integer>
  <key>PayloadRemovalDisallowed</key>
  <false/>
</dict>
</plist>
`;
}
