import { selects, type LabelSelector } from './workloads';
import type { K8sObject } from './render';

/**
 * Kubernetes NetworkPolicy semantics, enough to answer "may this pod open that connection?"
 * offline: a pod selected by no policy of a direction is unrestricted in it; otherwise some
 * rule of some selecting policy must match peer and port. Policies are those of one namespace.
 */

interface PolicyPort {
  port?: number | string;
  protocol?: string;
}
interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
interface Rule {
  to?: Peer[];
  from?: Peer[];
  ports?: PolicyPort[];
}
interface PolicySpec {
  podSelector: LabelSelector;
  policyTypes?: Array<'Ingress' | 'Egress'>;
  egress?: Rule[];
  ingress?: Rule[];
}

/** The other end of a connection: a pod (labels, its namespace's labels) or an IP address. */
export type Endpoint = { pod: Record<string, string>; namespace: Record<string, string> } | { ip: string };

function ipv4ToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split('/');
  const n = Number(bits ?? 32);
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return ((ipv4ToInt(base!) & mask) >>> 0) === ((ipv4ToInt(ip) & mask) >>> 0);
}

/** First address of a CIDR: a concrete destination to ask about. */
export function firstAddress(cidr: string): string {
  const [base] = cidr.split('/');
  return base!;
}

function peerMatches(peer: Peer, other: Endpoint, ownNamespace: Record<string, string>): boolean {
  if ('ip' in other) {
    if (!peer.ipBlock) return false;
    return cidrContains(peer.ipBlock.cidr, other.ip) && !(peer.ipBlock.except ?? []).some((e) => cidrContains(e, other.ip));
  }
  if (peer.ipBlock) return false;
  // No namespaceSelector: the policy's own namespace. No podSelector: every pod of the namespaces.
  const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, other.namespace) : selects({ matchLabels: ownNamespace }, other.namespace);
  return nsOk && selects(peer.podSelector ?? {}, other.pod);
}

function portMatches(ports: PolicyPort[] | undefined, port: number, protocol: string): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || p.port === port));
}

function policies(objects: K8sObject[]): PolicySpec[] {
  return objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.spec as PolicySpec);
}

function allowed(direction: 'Egress' | 'Ingress', objects: K8sObject[], pod: Record<string, string>, namespace: Record<string, string>, other: Endpoint, port: number, protocol: string): boolean {
  const relevant = policies(objects).filter((p) => selects(p.podSelector, pod) && (p.policyTypes ?? ['Ingress']).includes(direction));
  if (relevant.length === 0) return true;
  return relevant.some((p) =>
    ((direction === 'Egress' ? p.egress : p.ingress) ?? []).some((rule) => {
      const peers = direction === 'Egress' ? rule.to : rule.from;
      const peerOk = !peers || peers.length === 0 || peers.some((peer) => peerMatches(peer, other, namespace));
      return peerOk && portMatches(rule.ports, port, protocol);
    }),
  );
}

export function egressAllowed(objects: K8sObject[], pod: Record<string, string>, namespace: Record<string, string>, to: Endpoint, port: number, protocol = 'TCP'): boolean {
  return allowed('Egress', objects, pod, namespace, to, port, protocol);
}

export function ingressAllowed(objects: K8sObject[], pod: Record<string, string>, namespace: Record<string, string>, from: Endpoint, port: number, protocol = 'TCP'): boolean {
  return allowed('Ingress', objects, pod, namespace, from, port, protocol);
}
