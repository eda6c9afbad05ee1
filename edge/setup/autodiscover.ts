/**
 * @module edge/setup/autodiscover
 * Outlook's "POX" autodiscover: a POST of an XML request naming the address
 * to https://autodiscover.<domain>/autodiscover/autodiscover.xml, answered
 * with the IMAP and SMTP settings (responseschema 2006a). The request is read
 * with one regular expression: we need the address and nothing else.
 */
import { xml, parseEmail } from './xml.js';
import type { ClientSetup } from './autoconfig.js';

export function autodiscoverAddress(body: string): string | null {
  const m = /<(?:\w+:)?EMailAddress>\s*([^<]*?)\s*<\/(?:\w+:)?EMailAddress>/i.exec(body);
  return parseEmail(m?.[1])?.address ?? null;
}

export function autodiscoverResponse(s: ClientSetup, address: string): string {
  const proto = (type: string, port: number, extra = '') => `      <Protocol>
        <Type>${type}</Type>
        <Server>${xml(s.mailHost)}</Server>
        <Port>${port}</Port>
        <LoginName>${xml(address)}</LoginName>
        <DomainRequired>off</DomainRequired>
        <SPA>off</SPA>
        <SSL>on</SSL>
        <AuthRequired>on</AuthRequired>
${extra}      </Protocol>
`;
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">
    <User>
      <DisplayName>${xml(address)}</DisplayName>
    </User>
    <Account>
      <AccountType>email</AccountType>
      <Action>settings</Action>
${proto('IMAP', s.ports.imaps)}${proto('SMTP', s.ports.submissions, '        <UsePOPAuth>on</UsePOPAuth>\n')}    </Account>
  </Response>
</Autodiscover>
`;
}

/** The error answer Outlook understands (it then tries its next method). */
export function autodiscoverError(message: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response>
    <Error Time="00:00:00" Id="0">
      <ErrorCode>600</ErrorCode>
      <Message>${xml(message)}</Message>
      <DebugData />
    </Error>
  </Response>
</Autodiscover>
`;
}
