/**
 * @module scripts/readme
 * The README's generated sections: the configuration reference (the same
 * table as docs/configuration.md, from the schema) and the CLI reference
 * (every command's usage and options, from the command table the `haven`
 * binary dispatches on). Pure: text in, text out.
 */
import { renderConfigDocs } from '../node/config/index.js';
import { COMMANDS, GLOBAL_OPTIONS, usageLine } from '../node/cli/index.js';

function configSection(): string {
  // The full reference minus its own title: README has the heading.
  const body = renderConfigDocs().replace(/^# [^\n]*\n+/, '').replace(/^<!--[^\n]*-->\n+/, '');
  return body.replace(/\(haven\.example\.yaml\)/g, '(docs/haven.example.yaml)').trimEnd();
}

function cliSection(): string {
  const out: string[] = [
    'Every command reads the same configuration as `haven start` (`--config <file>`,',
    '`HAVEN_CONFIG`, `HAVEN_*` variables), works from scripts without prompts, and',
    'prints one line saying what to do next when it fails, with a non-zero exit',
    'code. `haven help <command>` prints the same text as below.',
    '',
    'Global options:',
    '',
    ...Object.entries(GLOBAL_OPTIONS).map(([k, o]) => `- \`--${k}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}\`: ${o.help}`),
  ];
  for (const cmd of COMMANDS) {
    out.push('', `### \`haven ${cmd.name}\``, '', cmd.summary, '', '```', usageLine(cmd), '```');
    if (cmd.details) out.push('', cmd.details);
    const opts = Object.entries(cmd.options ?? {});
    if (opts.length) {
      out.push('');
      for (const [k, o] of opts) out.push(`- \`${o.short ? `-${o.short}, ` : ''}--${k}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}\`: ${o.help}`);
    }
  }
  return out.join('\n');
}

/** docs/deploy.md under the README's "Deployment" heading: its title dropped, headings one level down, links kept working. */
export function deploySection(deployMd: string): string {
  return deployMd
    .replace(/^# [^\n]*\n+/, '')
    .replace(/^(#{2,5}) /gm, '#$1 ')
    .replace(/\]\((?!https?:|#|\/)([^)]+)\)/g, (_m, target: string) => `](${target.startsWith('../') ? target.slice(3) : `docs/${target}`})`)
    .trimEnd();
}

/** Replaces each `<!-- name -->…<!-- /name -->` block (or a bare `<!-- name -->`) with its generated text. */
export function fillReadme(readme: string, extra: Record<string, () => string> = {}): string {
  let text = readme;
  for (const [name, render] of Object.entries({ config: configSection, cli: cliSection, ...extra })) {
    const block = new RegExp(`<!-- ${name} -->[\\s\\S]*?<!-- /${name} -->|<!-- ${name} -->`);
    if (!block.test(text)) throw new Error(`README.md has no <!-- ${name} --> marker`);
    text = text.replace(block, () => `<!-- ${name} -->\n${render()}\n<!-- /${name} -->`);
  }
  return text;
}
