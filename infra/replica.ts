/**
 * @module infra/replica
 * The off-site replica: an R2 bucket, an account API token that can read and
 * write objects in that bucket only (both permission groups), and the S3 credentials R2 derives from
 * the token (access key id = token id, secret = SHA-256 of the token value).
 * The bucket outlives `pulumi destroy` and is protected in Pulumi unless the
 * stack says otherwise (R2 has no delete protection of its own).
 */
import { createHash } from 'node:crypto';
import * as cloudflare from '@pulumi/cloudflare';
import * as pulumi from '@pulumi/pulumi';

/**
 * The permission groups for objects in named buckets: the node writes (replication) and reads
 * (restore, `haven backup verify`, the standby's follow). Item Write alone does not grant reads.
 */
export const R2_OBJECT_READ = 'Workers R2 Storage Bucket Item Read';
export const R2_OBJECT_WRITE = 'Workers R2 Storage Bucket Item Write';
export const R2_OBJECT_GROUPS = [R2_OBJECT_READ, R2_OBJECT_WRITE] as const;

export interface ReplicaBucketArgs {
  accountId: string;
  bucketName: string;
  /** R2 location hint (wnam, enam, weur, eeur, apac, oc), or '' to let Cloudflare choose. */
  location: string;
  /** Object key prefix for this node's databases. */
  prefix: string;
  retainData: boolean;
}

/** R2's S3 secret access key for an API token value. */
export function r2SecretAccessKey(tokenValue: string): string {
  return createHash('sha256').update(tokenValue).digest('hex');
}

export function r2Endpoint(accountId: string): string {
  return `https://${accountId}.r2.cloudflarestorage.com`;
}

/** The node's replicaUrl option (node/config/urls.ts parses it). */
export function replicaUrl(bucket: string, prefix: string, accountId: string): string {
  return `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(r2Endpoint(accountId))}&region=auto`;
}

export class ReplicaBucket extends pulumi.ComponentResource {
  readonly bucketName: pulumi.Output<string>;
  readonly url: pulumi.Output<string>;
  readonly accessKeyId: pulumi.Output<string>;
  readonly secretAccessKey: pulumi.Output<string>;

  constructor(name: string, args: ReplicaBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super('haven:infra:ReplicaBucket', name, {}, opts);
    const bucket = new cloudflare.R2Bucket(
      `${name}-bucket`,
      { accountId: args.accountId, name: args.bucketName, ...(args.location ? { location: args.location } : {}) },
      { parent: this, retainOnDelete: args.retainData, protect: args.retainData },
    );
    const groupIds = R2_OBJECT_GROUPS.map((name) =>
      cloudflare.getAccountApiTokenPermissionGroupsListOutput({ accountId: args.accountId, name }, { parent: this }).results.apply((rs) => {
        const g = rs.find((r) => r.name === name);
        if (!g) throw new Error(`Cloudflare has no "${name}" permission group: check that R2 is enabled on the account`);
        return g.id;
      }),
    );
    const token = new cloudflare.AccountToken(
      `${name}-token`,
      {
        accountId: args.accountId,
        name: `haven replica ${args.bucketName}`,
        policies: [
          {
            effect: 'allow',
            permissionGroups: groupIds.map((id) => ({ id })),
            // Scoped to this one bucket: a leaked node cannot touch other buckets.
            resources: bucket.name.apply((b) => JSON.stringify({ [`com.cloudflare.edge.r2.bucket.${args.accountId}_default_${b}`]: '*' })),
          },
        ],
      },
      { parent: this },
    );
    this.bucketName = bucket.name;
    this.url = bucket.name.apply((b) => replicaUrl(b, args.prefix, args.accountId));
    this.accessKeyId = token.id;
    this.secretAccessKey = pulumi.secret(token.value.apply(r2SecretAccessKey));
    this.registerOutputs({ bucketName: this.bucketName, url: this.url, accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey });
  }
}
