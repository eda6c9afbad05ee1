/**
 * @module node/dns
 * The DNS records a Haven mail domain needs and the MTA-STS policy, shared by
 * the Pulumi program (infra/), the node's admin API and `haven doctor`.
 * Reverse names and blocklist answers live in ./reverse.js, imported from
 * there by node-side code only: it needs node:net, which the edge Worker
 * bundle (it imports this index) must not pull in.
 */
export {
  DEFAULT_DMARC_POLICY,
  DKIM_SELECTOR_RE,
  DMARC_POLICIES,
  DnsInputError,
  MANAGESIEVE_PORT,
  dkimTxt,
  dmarcPolicyProblem,
  formatRecord,
  mailDnsRecords,
  mtaStsPolicy,
  mtaStsPolicyFor,
  mtaStsPolicyId,
  publicKeyBase64,
  spfMechanismProblem,
  nodeSpfTerms,
  spfTxt,
  srvServices,
  type DkimKey,
  type DmarcPolicy,
  type DnsRecord,
  type MailDnsInput,
  type MailDomain,
  type MtaStsMode,
  type MtaStsPolicyInput,
} from './records.js';
