/**
 * @module edge/setup/autoconfig
 * Thunderbird autoconfiguration (the clientConfig v1.1 format Thunderbird
 * fetches from autoconfig.<domain>/mail/config-v1.1.xml and
 * <domain>/.well-known/autoconfig/mail/config-v1.1.xml). Hosts and ports are
 * the ones node/dns publishes in SRV records, so the two never disagree.
 */
import type { ClientPorts } from '../context.js';
import { xml } from './xml.js';

export interface ClientSetup {
  domain: string;
  mailHost: string;
  ports: ClientPorts;
  pop3: boolean;
}

function davUrl(s: ClientSetup, kind: 'caldav' | 'carddav'): string {
  const port = s.ports.https === 443 ? '' : `:${s.ports.https}`;
  return `https://${s.mailHost}${port}/.well-known/${kind}`;
}

export function thunderbirdConfig(s: ClientSetup): string {
  const server = (tag: string, type: string, port: number, socket: string) => `    <${tag} type="${type}">
      <hostname>${xml(s.mailHost)}</hostname>
      <port>${port}</port>
      <socketType>${socket}</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </${tag}>
`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="${xml(s.domain)}">
    <domain>${xml(s.domain)}</domain>
    <displayName>${xml(s.domain)} (Haven)</displayName>
    <displayShortName>${xml(s.domain)}</displayShortName>
${server('incomingServer', 'imap', s.ports.imaps, 'SSL')}${s.pop3 ? server('incomingServer', 'pop3', s.ports.pop3s, 'SSL') : ''}${server('outgoingServer', 'smtp', s.ports.submissions, 'SSL')}${server('outgoingServer', 'smtp', s.ports.submission, 'STARTTLS')}  </emailProvider>
  <addressBook type="carddav">
    <username>%EMAILADDRESS%</username>
    <authentication>http-basic</authentication>
    <serverURL>${xml(davUrl(s, 'carddav'))}</serverURL>
  </addressBook>
  <calendar type="caldav">
    <username>%EMAILADDRESS%</username>
    <authentication>http-basic</authentication>
    <serverURL>${xml(davUrl(s, 'caldav'))}</serverURL>
  </calendar>
</clientConfig>
`;
}

export { davUrl };
