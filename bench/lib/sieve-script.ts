/**
 * @module bench/lib/sieve-script
 * A Sieve script of 20 rules, the size and mix a careful owner ends up with
 * (lists by List-Id, senders by address, subjects by pattern, flags, a
 * rules that file), for `npm run bench -- smtp --sieve`. The bench messages
 * match the last rule only (a flag), so every rule is tested for each message
 * and each is still stored once, as without a script.
 */
export const BENCH_SCRIPT = `require ["fileinto", "imap4flags", "envelope", "subaddress", "variables", "relational", "comparator-i;ascii-numeric", "body", "mailbox", "copy"];
if exists "list-id" { if header :matches "list-id" "*<*.*>" { fileinto :create "Lists/\${2}"; stop; } }
if address :domain :is "from" "github.com" { fileinto :create "GitHub"; stop; }
if address :is "from" ["boss@work.example", "ceo@work.example"] { addflag "\\\\Flagged"; }
if header :contains "subject" ["invoice", "receipt", "order confirmation"] { fileinto :create "Receipts"; stop; }
if header :matches "subject" "*[URGENT]*" { addflag "$Urgent"; }
if envelope :detail "to" "news" { fileinto :create "News"; stop; }
if envelope :detail "to" "shop" { fileinto :create "Shopping"; stop; }
if header :value "ge" :comparator "i;ascii-numeric" "x-priority" "4" { addflag "$Low"; }
if address :domain :contains "from" ["facebook", "linkedin", "twitter"] { fileinto :create "Social"; stop; }
if header :contains "x-mailer" "Mailchimp" { fileinto :create "Newsletters"; stop; }
if exists "x-campaign-id" { fileinto :create "Newsletters"; stop; }
if header :is "precedence" ["bulk", "list"] { fileinto :create "Bulk"; stop; }
if address :localpart :is "from" ["noreply", "no-reply", "donotreply"] { addflag "$Automated"; }
if header :contains "subject" "password reset" { addflag "\\\\Flagged"; }
if header :count "gt" :comparator "i;ascii-numeric" "received" "20" { fileinto :create "Suspicious"; stop; }
if size :over 5M { addflag "$Big"; }
if header :matches "subject" "Re: *" { addflag "$Reply"; }
if address :is "to" "everyone@example.test" { fileinto :create "Everyone"; stop; }
if header :contains "subject" "unsubscribe" { fileinto :create "Bulk"; stop; }
if header :matches "subject" "Benchmark message *" { addflag "$Bench"; }
`;
