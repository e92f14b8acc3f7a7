/* eslint-disable */
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
export type MakeOptional<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]?: Maybe<T[SubKey]> };
export type MakeMaybe<T, K extends keyof T> = Omit<T, K> & { [SubKey in K]: Maybe<T[SubKey]> };
export type MakeEmpty<T extends { [key: string]: unknown }, K extends keyof T> = { [_ in K]?: never };
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** An integer that may exceed 32 bits, serialised as a JSON number. */
  BigInt: { input: number; output: number; }
  /** Date with time (isoformat) */
  DateTime: { input: string; output: string; }
  /** The `JSON` scalar type represents JSON values as specified by [ECMA-404](https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf). */
  JSON: { input: unknown; output: unknown; }
  /** Represents a file upload. */
  Upload: { input: File; output: File; }
};

/** An ingested video, audio file, image or text document, and the entry point to everything the pipeline learned about it. */
export type Asset = Node & {
  __typename?: 'Asset';
  /** Number of audio channels (video and audio, once probed). */
  audioChannels: Maybe<Scalars['Int']['output']>;
  /** Audit trail of this asset (who changed what), newest first. */
  auditEvents: AuditEventConnection;
  /** SHA-256 of the content (hex); identical uploads share it. */
  contentSha256: Scalars['String']['output'];
  /** URL of the content itself (same origin as the API), for a player or a download: signed like keyframe URLs, it loads without a header and expires (signed_url_ttl_seconds); answers HTTP range requests. */
  contentUrl: Scalars['String']['output'];
  /** When the asset was registered. */
  createdAt: Scalars['DateTime']['output'];
  /** Labels, faces and on-screen text found in the asset, in time order; `from`/`to` keep those seen in that range (seconds; from inclusive, to exclusive). */
  detections: DetectionConnection;
  /** Duration in seconds (video and audio, once probed). */
  durationSeconds: Maybe<Scalars['Float']['output']>;
  /** Frames per second (video, once probed). */
  frameRate: Maybe<Scalars['Float']['output']>;
  /** Frame height in pixels (video and images, once probed). */
  height: Maybe<Scalars['Int']['output']>;
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
  /** Pipeline runs over this asset, newest first. */
  jobs: JobConnection;
  /** What the asset is. */
  kind: AssetKind;
  /** Main spoken or written language (BCP 47), once detected. */
  language: Maybe<Scalars['String']['output']>;
  /** Technical facts from probing: container, codecs, streams (a JSON object). */
  mediaInfo: Scalars['JSON']['output'];
  /** Free-form metadata supplied by clients (a JSON object). */
  metadata: Scalars['JSON']['output'];
  /** MIME type detected from the content. */
  mimeType: Scalars['String']['output'];
  /** Which models ran on this asset: per model, summed over every job that processed it (superseded and failed runs included: what it cost), in the order they first ran. */
  modelUsage: Array<ModelUsage>;
  /** The people seen in this asset (not hidden ones), by first appearance. */
  people: Array<Person>;
  /** Assets related to this one and why: same person, near-duplicate, similar scenes, shared on-screen text, shared labels; each reason with its score and evidence, strongest combined first. Deleted assets and marked duplicates never appear. */
  related: RelatedAssetConnection;
  /** Scenes (shots of a video, the frame of an image) in time order. */
  scenes: SceneConnection;
  /** Assets linked to this one by similarity, best score first. */
  similarAssets: SimilarAssetConnection;
  /** Size of the content in bytes. */
  sizeBytes: Scalars['BigInt']['output'];
  /** Where the content came from, if known: the URL it was fetched from (without its query), or for a file on the server its path relative to the ingestion root it lies in (server directories are never shown). */
  sourceUri: Maybe<Scalars['String']['output']>;
  /** Where the asset is in its life (registered, processing, ready, failed). */
  status: AssetStatus;
  /** Tags, sorted and unique. */
  tags: Array<Scalars['String']['output']>;
  /** Human title; defaults to the file name without extension. */
  title: Scalars['String']['output'];
  /** Transcript segments in time order; `from`/`to` keep those overlapping that range (seconds), `contains` those whose text contains the phrase (case-insensitive). */
  transcript: TranscriptSegmentConnection;
  /** When the asset last changed. */
  updatedAt: Scalars['DateTime']['output'];
  /** Frame width in pixels (video and images, once probed). */
  width: Maybe<Scalars['Int']['output']>;
};


/** An ingested video, audio file, image or text document, and the entry point to everything the pipeline learned about it. */
export type AssetAuditEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};


/** An ingested video, audio file, image or text document, and the entry point to everything the pipeline learned about it. */
export type AssetDetectionsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<DetectionFilter>;
  first?: Scalars['Int']['input'];
  from?: InputMaybe<Scalars['Float']['input']>;
  to?: InputMaybe<Scalars['Float']['input']>;
};


/** An ingested video, audio file, image or text document, and the entry point to everything the pipeline learned about it. */
export type AssetJobsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
  status?: InputMaybe<Array<JobStatus>>;
};


/** An ingested video, audio file, image or text document, and the entry point to everything the pipeline learned about it. */
export type AssetRelatedArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};


/** An ingested video, audio file, image or text document, and the entry point to everything the pipeline learned about it. */
export type AssetScenesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};


/** An ingested video, audio file, image or text document, and the entry point to everything the pipeline learned about it. */
export type AssetSimilarAssetsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<SimilarityFilter>;
  first?: Scalars['Int']['input'];
};


/** An ingested video, audio file, image or text document, and the entry point to everything the pipeline learned about it. */
export type AssetTranscriptArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  contains?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
  from?: InputMaybe<Scalars['Float']['input']>;
  to?: InputMaybe<Scalars['Float']['input']>;
};

/** A page of a list, in the Relay connection shape. */
export type AssetConnection = {
  __typename?: 'AssetConnection';
  /** The rows of this page, in order. */
  edges: Array<AssetEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** One row of a connection and its cursor. */
export type AssetEdge = {
  __typename?: 'AssetEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: Asset;
};

/** A change of an asset. */
export type AssetEvent = {
  __typename?: 'AssetEvent';
  /** The asset as this event left it (SNAPSHOT, UPDATED), or as stored when the event was delivered (job events); null once deleted. */
  asset: Maybe<Asset>;
  /** The asset. */
  assetId: Scalars['ID']['output'];
  /** For UPDATED: which of title, tags, metadata changed. */
  changedFields: Array<Scalars['String']['output']>;
  /** For job events: the job that was queued or ended. */
  jobId: Maybe<Scalars['ID']['output']>;
  /** What changed. */
  kind: AssetEventKind;
  /** When it happened. */
  occurredAt: Scalars['DateTime']['output'];
};

/** What changed about an asset. */
export type AssetEventKind =
  /** It was deleted (asset is null; the last event). */
  | 'DELETED'
  /** A job over it was cancelled (see jobId). */
  | 'JOB_CANCELLED'
  /** A job over it succeeded (see jobId). */
  | 'JOB_COMPLETED'
  /** A job over it failed (see jobId). */
  | 'JOB_FAILED'
  /** A job over it was queued by a reprocess, an escalation follow-up or an upgrade pass (see jobId and the job's quality). */
  | 'JOB_QUEUED'
  /** The asset as stored when the subscription started (always first). */
  | 'SNAPSHOT'
  /** Its title, tags or metadata changed (see changedFields). */
  | 'UPDATED';

/** Which assets to list; every given criterion must hold. */
export type AssetFilter = {
  /** Keep assets registered at or after this time. */
  createdAfter?: InputMaybe<Scalars['DateTime']['input']>;
  /** Keep assets registered before this time. */
  createdBefore?: InputMaybe<Scalars['DateTime']['input']>;
  /** Also list assets an editor marked as duplicates of another (resolveDuplicates); hidden by default. */
  includeDuplicates?: Scalars['Boolean']['input'];
  /** Keep assets of these kinds. */
  kind?: InputMaybe<Array<AssetKind>>;
  /** Keep assets whose detected language is this (BCP 47, exact match). */
  language?: InputMaybe<Scalars['String']['input']>;
  /** Keep assets at most this long (assets without a duration are dropped). */
  maxDurationSeconds?: InputMaybe<Scalars['Float']['input']>;
  /** Keep assets at least this long (assets without a duration are dropped). */
  minDurationSeconds?: InputMaybe<Scalars['Float']['input']>;
  /** Keep assets in which this Person appears (a merged-away person's ID stands for the person it was merged into). */
  personId?: InputMaybe<Scalars['ID']['input']>;
  /** Keep assets in these states. */
  status?: InputMaybe<Array<AssetStatus>>;
  /** Keep assets carrying this tag (exact match). */
  tag?: InputMaybe<Scalars['String']['input']>;
  /** Keep assets whose title contains this text (case-insensitive). */
  titleContains?: InputMaybe<Scalars['String']['input']>;
};

/** What an asset is. */
export type AssetKind =
  /** A sound recording. */
  | 'AUDIO'
  /** A still picture. */
  | 'IMAGE'
  /** A text document (plain text, Markdown, HTML or PDF). */
  | 'TEXT'
  /** A video file (with or without a sound track). */
  | 'VIDEO';

/** How to sort assets. */
export type AssetOrder = {
  /** Sort direction. */
  direction?: OrderDirection;
  /** Sort key. */
  field?: AssetOrderField;
};

/** What assets can be sorted by. */
export type AssetOrderField =
  /** When the asset was registered (the default). */
  | 'CREATED_AT'
  /** The title, compared as stored (case-sensitive). */
  | 'TITLE'
  /** When the asset last changed. */
  | 'UPDATED_AT';

/** Where an asset is in its life. */
export type AssetStatus =
  /** Deleted (soft): no query or list returns it any more. */
  | 'DELETED'
  /** Its last job failed (see the job's errorCode); retryJob or reprocessAsset runs it again. */
  | 'FAILED'
  /** A job is analysing it. */
  | 'PROCESSING'
  /** Analysed: its scenes, transcript, detections and links are available. */
  | 'READY'
  /** Stored, not analysed: no job has run yet, or its last one was cancelled. */
  | 'REGISTERED';

/** One action taken through the API or the CLI; never changes. */
export type AuditEvent = Node & {
  __typename?: 'AuditEvent';
  /** What was done, as <entity>.<verb> (e.g. asset.update). */
  action: Scalars['String']['output'];
  /** Who acted (an API key name, a CLI user, or anonymous@<tenant>). */
  actor: Scalars['String']['output'];
  /** What changed, as recorded at the time (a JSON object). */
  details: Scalars['JSON']['output'];
  /** ID of the entity acted on (usable with `node(id:)` while it exists). */
  entityId: Scalars['ID']['output'];
  /** Kind of entity acted on (asset, job, ...). */
  entityType: Scalars['String']['output'];
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
  /** When it happened. */
  occurredAt: Scalars['DateTime']['output'];
};

/** A page of a list, in the Relay connection shape. */
export type AuditEventConnection = {
  __typename?: 'AuditEventConnection';
  /** The rows of this page, in order. */
  edges: Array<AuditEventEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** One row of a connection and its cursor. */
export type AuditEventEdge = {
  __typename?: 'AuditEventEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: AuditEvent;
};

/** Which audit events to list; every condition given must hold. */
export type AuditEventFilter = {
  /** What was done, exactly (e.g. asset.update). */
  action?: InputMaybe<Scalars['String']['input']>;
  /** Who acted: an API key's name, exactly. */
  actor?: InputMaybe<Scalars['String']['input']>;
  /** The entity acted on: its ID (or, for entities without one, its UUID). */
  entityId?: InputMaybe<Scalars['ID']['input']>;
  /** Kind of entity acted on (asset, job, api_key, ...). */
  entityType?: InputMaybe<Scalars['String']['input']>;
  /** Only events at or after this time. */
  occurredAfter?: InputMaybe<Scalars['DateTime']['input']>;
  /** Only events before this time. */
  occurredBefore?: InputMaybe<Scalars['DateTime']['input']>;
};

/** Whether one backend the service depends on works. */
export type BackendHealth = {
  __typename?: 'BackendHealth';
  /** What was found, without hosts or credentials. */
  detail: Scalars['String']['output'];
  /** True when it works; null when this process cannot tell (see detail). */
  healthy: Maybe<Scalars['Boolean']['output']>;
  /** database, broker, search or inference. */
  name: Scalars['String']['output'];
};

/** The job queue is full: retry after the given delay. */
export type Backpressure = UserError & {
  __typename?: 'Backpressure';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
  /** Seconds to wait before retrying. */
  retryAfterSeconds: Scalars['Float']['output'];
};

/** The list input has more items than allowed. */
export type BatchTooLarge = UserError & {
  __typename?: 'BatchTooLarge';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** The most items one call accepts. */
  maxItems: Scalars['Int']['output'];
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** A box in normalised coordinates (0 to 1 of width and height). */
export type BoundingBox = {
  __typename?: 'BoundingBox';
  /** Height. */
  height: Scalars['Float']['output'];
  /** Width. */
  width: Scalars['Float']['output'];
  /** Left edge. */
  x: Scalars['Float']['output'];
  /** Top edge. */
  y: Scalars['Float']['output'];
};

/** State of a circuit breaker in front of a model backend. */
export type BreakerState =
  /** Healthy: calls go to the backend. */
  | 'CLOSED'
  /** Cool-down over: trial calls test whether the backend recovered. */
  | 'HALF_OPEN'
  /** Failing: calls are refused at once (a fallback serves them) until a cool-down ends. */
  | 'OPEN';

/** The circuit breaker of a model backend in one worker. */
export type BreakerStatus = {
  __typename?: 'BreakerStatus';
  /** Backend the breaker guards (triton). */
  backend: Scalars['String']['output'];
  /** Closed: calls go to the backend; open: they fall back; half-open: probing. */
  state: BreakerState;
  /** Worker that holds the breaker; api:<host>:<pid> for the API process answering (its model embeds search queries). */
  worker: Scalars['String']['output'];
};

/** The job to cancel. */
export type CancelJobInput = {
  /** The job to cancel. */
  id: Scalars['ID']['input'];
};

/** The job being cancelled, or why it cannot be. */
export type CancelJobResult = CancelJobSuccess | Forbidden | InvalidState | MalformedId | NotFound | WrongIdType;

/** Cancellation is recorded. */
export type CancelJobSuccess = {
  __typename?: 'CancelJobSuccess';
  /** The job: CANCELLED at once if no stage was running, otherwise when the running stage stops (watch jobProgress). */
  job: Job;
};

/** A person seen in the same assets, and in how many. */
export type CoAppearance = {
  __typename?: 'CoAppearance';
  /** Assets both appear in. */
  assetCount: Scalars['Int']['output'];
  /** The other person. */
  person: Person;
};

/** An endpoint to register. */
export type CreateWebhookInput = {
  /** Event types to receive: job.succeeded, job.failed, asset.ready, asset.deleted. */
  events: Array<Scalars['String']['input']>;
  /** The signing secret (16-200 characters); omitted: one is generated. */
  secret?: InputMaybe<Scalars['String']['input']>;
  /** http(s) URL on a public address (same rules as URL ingest). */
  url: Scalars['String']['input'];
};

/** The endpoint, or why it was refused. */
export type CreateWebhookResult = CreateWebhookSuccess | Forbidden | InvalidInput | UrlNotAllowed;

/** The endpoint is registered. */
export type CreateWebhookSuccess = {
  __typename?: 'CreateWebhookSuccess';
  /** The signing secret. Shown this once: store it now. */
  secret: Scalars['String']['output'];
  /** The endpoint. */
  webhook: Webhook;
};

/** The asset to delete. */
export type DeleteAssetInput = {
  /** The asset to delete. */
  id: Scalars['ID']['input'];
};

/** Confirmation, or why nothing was deleted. */
export type DeleteAssetResult = DeleteAssetSuccess | Forbidden | MalformedId | NotFound | WrongIdType;

/** The asset is deleted (hidden everywhere, kept on disk). */
export type DeleteAssetSuccess = {
  __typename?: 'DeleteAssetSuccess';
  /** ID of the deleted asset. */
  deletedAssetId: Scalars['ID']['output'];
};

/** The removal, or why it failed. */
export type DeleteWebhookResult = DeleteWebhookSuccess | Forbidden | MalformedId | NotFound | WrongIdType;

/** The endpoint and its delivery log are removed. */
export type DeleteWebhookSuccess = {
  __typename?: 'DeleteWebhookSuccess';
  /** The removed endpoint's ID. */
  deletedId: Scalars['ID']['output'];
};

/** A label, a face or a piece of on-screen text found in a frame. */
export type Detection = Node & {
  __typename?: 'Detection';
  /** The asset the detection belongs to. */
  asset: Maybe<Asset>;
  /** Where in the frame; null for whole-frame labels. */
  box: Maybe<BoundingBox>;
  /** Model confidence (0 to 1). */
  confidence: Scalars['Float']['output'];
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
  /** What was found. */
  kind: DetectionKind;
  /** The class name (labels), "face" (faces) or the recognised text (text). */
  label: Scalars['String']['output'];
  /** Model that produced the detection. */
  modelName: Scalars['String']['output'];
  /** Version of that model. */
  modelVersion: Scalars['String']['output'];
  /** The scene whose keyframe the detection was found in, if any. */
  scene: Maybe<Scene>;
  /** When in the asset the frame was, in seconds. */
  timeSeconds: Scalars['Float']['output'];
};

/** A page of a list, in the Relay connection shape. */
export type DetectionConnection = {
  __typename?: 'DetectionConnection';
  /** The rows of this page, in order. */
  edges: Array<DetectionEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** One row of a connection and its cursor. */
export type DetectionEdge = {
  __typename?: 'DetectionEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: Detection;
};

/** Which detections to return; every given criterion must hold. */
export type DetectionFilter = {
  /** Keep detections of these kinds. */
  kind?: InputMaybe<Array<DetectionKind>>;
  /** Keep detections with this label or text (case-insensitive, whole value). */
  label?: InputMaybe<Scalars['String']['input']>;
  /** Keep detections at least this confident (0 to 1). */
  minConfidence?: InputMaybe<Scalars['Float']['input']>;
};

/** What a detection found. */
export type DetectionKind =
  /** A human face, with its box. */
  | 'FACE'
  /** A class of object or scene recognised in the whole frame (e.g. boat). */
  | 'LABEL'
  /** A line of text read from the picture (OCR), with its box. */
  | 'TEXT';

/** What an editor decides about a near-duplicate cluster. */
export type DuplicateAction =
  /** The other assets are copies of `keep`: hide them from lists and search (unless `includeDuplicates` asks for them). */
  | 'MARK_DUPLICATES'
  /** None of the cluster's scored pairs are copies: never suggest them again, even after a reprocess scores them anew. */
  | 'NOT_DUPLICATES';

/** Assets that are near-duplicates of one another, directly or through a chain of links. */
export type DuplicateCluster = {
  __typename?: 'DuplicateCluster';
  /** The assets, oldest first (the original upload is usually the first). */
  assets: Array<Asset>;
  /** The highest pairwise score in the cluster. */
  bestScore: Scalars['Float']['output'];
  /** Names the cluster for resolveDuplicates: it is the cluster that holds its smallest asset (it changes only when the cluster does). */
  id: Scalars['ID']['output'];
  /** How many scored pairs link the cluster's assets. */
  pairCount: Scalars['Int']['output'];
  /** The scored pairs, best first. */
  pairs: Array<DuplicatePair>;
  /** How many assets the cluster holds (at least 2). */
  size: Scalars['Int']['output'];
  /** The lowest pairwise score in the cluster: its weakest link. */
  worstScore: Scalars['Float']['output'];
};


/** Assets that are near-duplicates of one another, directly or through a chain of links. */
export type DuplicateClusterAssetsArgs = {
  first?: Scalars['Int']['input'];
};


/** Assets that are near-duplicates of one another, directly or through a chain of links. */
export type DuplicateClusterPairsArgs = {
  first?: Scalars['Int']['input'];
};

/** Near-duplicate clusters, largest first. */
export type DuplicateClusterConnection = {
  __typename?: 'DuplicateClusterConnection';
  /** The clusters of this page. */
  edges: Array<DuplicateClusterEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
  /** How many clusters match the filter in all. */
  totalCount: Scalars['Int']['output'];
};

/** One cluster and its cursor. */
export type DuplicateClusterEdge = {
  __typename?: 'DuplicateClusterEdge';
  /** Opaque position of this cluster; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The cluster. */
  node: DuplicateCluster;
};

/** Which near-duplicate links form clusters. */
export type DuplicateFilter = {
  /** Only assets of these kinds (near-duplicates always share a kind). */
  kinds?: InputMaybe<Array<AssetKind>>;
  /** Only links scoring at least this (0 to 1): a stricter threshold splits clusters. */
  minScore?: InputMaybe<Scalars['Float']['input']>;
};

/** Two assets of a cluster and how alike they are. */
export type DuplicatePair = {
  __typename?: 'DuplicatePair';
  /** How alike the two are (0 to 1; at or above the near-duplicate threshold). */
  score: Scalars['Float']['output'];
  /** The link itself (model, version, when it was scored). */
  similarity: SimilarityEdge;
  /** One asset of the pair (pairs are symmetric). */
  source: Asset;
  /** The other asset of the pair. */
  target: Asset;
};

/** The file or upload has no content. */
export type EmptyFile = UserError & {
  __typename?: 'EmptyFile';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** Fetching the URL failed: no answer, an HTTP error status, too many redirects or too slow. */
export type FetchFailed = UserError & {
  __typename?: 'FetchFailed';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** The file or upload exceeds the size limit. */
export type FileTooLarge = UserError & {
  __typename?: 'FileTooLarge';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** The largest accepted size in bytes. */
  maxBytes: Scalars['BigInt']['output'];
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** The API key lacks the scope this operation needs. */
export type Forbidden = UserError & {
  __typename?: 'Forbidden';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** The idempotency key was used before with different content or parameters. */
export type IdempotencyConflict = UserError & {
  __typename?: 'IdempotencyConflict';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** One asset to register. */
export type IngestAssetInput = {
  /** Client key making retries safe: the same key with the same content returns what its first call returned (restoring the asset if it was deleted since); with different content it is an IdempotencyConflict. */
  idempotencyKey?: InputMaybe<Scalars['String']['input']>;
  /** Free-form metadata (a JSON object). */
  metadata?: InputMaybe<Scalars['JSON']['input']>;
  /** Where the content comes from. */
  source: IngestSource;
  /** Tags to attach. */
  tags?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Title; defaults to the file name. */
  title?: InputMaybe<Scalars['String']['input']>;
};

/** The ingested asset, or why it was not ingested. */
export type IngestAssetResult = Backpressure | EmptyFile | FetchFailed | FileTooLarge | Forbidden | IdempotencyConflict | IngestAssetSuccess | InvalidInput | PathNotAllowed | RateLimited | UnreadableFile | UnsupportedMedia | UrlNotAllowed;

/** The asset is registered and its processing is queued. */
export type IngestAssetSuccess = {
  __typename?: 'IngestAssetSuccess';
  /** The asset (an existing one if the same content was registered). */
  asset: Asset;
  /** False when the content or idempotency key was seen before. */
  created: Scalars['Boolean']['output'];
  /** The job processing it; for a repeated idempotency key, the job created under that key; null when the content was already registered (for a key: when the key was first used). */
  job: Maybe<Job>;
};

/** Several assets to register in one call. */
export type IngestAssetsInput = {
  /** The assets, at most 50; each is registered on its own (one failing does not stop the others). */
  items: Array<IngestAssetInput>;
};

/** Per-item results, or why the batch was refused. */
export type IngestAssetsResult = BatchTooLarge | Forbidden | IngestAssetsSuccess | InvalidInput;

/** Every item was attempted; each has its own result. */
export type IngestAssetsSuccess = {
  __typename?: 'IngestAssetsSuccess';
  /** One result per item, in input order. */
  results: Array<IngestAssetResult>;
};

/** Where the content comes from: exactly one of a local path, an uploaded file or a URL. */
export type IngestSource =
  /** A file on the server, inside the allowed ingestion roots. */
  { path: Scalars['String']['input']; upload?: never; url?: never; }
  |  /** A file sent with the request (GraphQL multipart request spec), within the size limit. */
  { path?: never; upload: Scalars['Upload']['input']; url?: never; }
  |  /** An http(s) URL the server fetches: its host must resolve to public addresses only (every redirect is checked again); size and time are capped. */
  { path?: never; upload?: never; url: Scalars['String']['input']; };

/** An input value is malformed or out of range. */
export type InvalidInput = UserError & {
  __typename?: 'InvalidInput';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** The entity is in a state where this action makes no sense. */
export type InvalidState = UserError & {
  __typename?: 'InvalidState';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** One run of a pipeline over one asset. */
export type Job = Node & {
  __typename?: 'Job';
  /** The asset the job processes (null once the asset is deleted). */
  asset: Maybe<Asset>;
  /** How many times the job was started (retries included). */
  attempts: Scalars['Int']['output'];
  /** When cancellation was requested, if it was. */
  cancelRequestedAt: Maybe<Scalars['DateTime']['output']>;
  /** What processing cost so far: every stage run's CPU and GPU time and stored bytes, priced (null until a stage has run). */
  cost: Maybe<JobCost>;
  /** When the job was created. */
  createdAt: Scalars['DateTime']['output'];
  /** Name of the stage running now, if any. */
  currentStage: Maybe<Scalars['String']['output']>;
  /** Code of the error that failed the job, if it failed. */
  errorCode: Maybe<Scalars['String']['output']>;
  /** Message of the error that failed the job, if it failed. */
  errorMessage: Maybe<Scalars['String']['output']>;
  /** When the job reached a final state. */
  finishedAt: Maybe<Scalars['DateTime']['output']>;
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
  /** Which models the job's stages ran: per model, summed over its stages (retried runs included), in the order they first ran. */
  models: Array<ModelUsage>;
  /** Name of the pipeline that runs. */
  pipeline: Scalars['String']['output'];
  /** Scheduling priority (higher runs first within a queue). */
  priority: Scalars['Int']['output'];
  /** Overall progress from 0 to 1, weighted by stage. */
  progress: Scalars['Float']['output'];
  /** How the job chooses its models: ROUTED (the queue's route), ACCURATE (an upgrade pass) or ESCALATION (a fast pass's unsure spans re-run on the accurate model). */
  quality: JobQuality;
  /** Queue the job runs on (realtime before batch). */
  queue: Scalars['String']['output'];
  /** Stages this run was asked for; null means the whole pipeline. */
  requestedStages: Maybe<Array<Scalars['String']['output']>>;
  /** The job's stages in pipeline order. */
  stages: JobStageConnection;
  /** When the first stage started. */
  startedAt: Maybe<Scalars['DateTime']['output']>;
  /** Where the job is in its life. */
  status: JobStatus;
  /** When the job last changed. */
  updatedAt: Scalars['DateTime']['output'];
  /** True while one of its stages waits for another worker because its own stopped mid-run (killed, crashed or hung: its lease ran out); the job resumes from that stage. */
  waitingToResume: Scalars['Boolean']['output'];
};


/** One run of a pipeline over one asset. */
export type JobStagesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};

/** A page of a list, in the Relay connection shape. */
export type JobConnection = {
  __typename?: 'JobConnection';
  /** The rows of this page, in order. */
  edges: Array<JobEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** Resources a job used and their price (configured per deployment). */
export type JobCost = {
  __typename?: 'JobCost';
  /** Price of the CPU time. */
  cpuCost: Scalars['Float']['output'];
  /** Process CPU-seconds its stage runs used (retried runs included). */
  cpuSeconds: Scalars['Float']['output'];
  /** Currency of the prices (ISO 4217 code). */
  currency: Scalars['String']['output'];
  /** Price of the GPU time. */
  gpuCost: Scalars['Float']['output'];
  /** GPU-seconds its model calls used. */
  gpuSeconds: Scalars['Float']['output'];
  /** Price of the stored bytes. */
  storageCost: Scalars['Float']['output'];
  /** Bytes its stages wrote to the blob store (keyframes, thumbnails). */
  storedBytes: Scalars['BigInt']['output'];
  /** Total price. */
  total: Scalars['Float']['output'];
};

/** One row of a connection and its cursor. */
export type JobEdge = {
  __typename?: 'JobEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: Job;
};

/** One change of a job: a stage starting, progressing, finishing or failing, or the job ending. */
export type JobProgressEvent = {
  __typename?: 'JobProgressEvent';
  /** The stage running after the change, if any. */
  currentStage: Maybe<Scalars['String']['output']>;
  /** Code of the failure, for failure events. */
  errorCode: Maybe<Scalars['String']['output']>;
  /** Message of the failure, for failure events. */
  errorMessage: Maybe<Scalars['String']['output']>;
  /** The job as stored now (read when this event is delivered): stages and all. Select it on SNAPSHOT to start from the full state. */
  job: Maybe<Job>;
  /** The job. */
  jobId: Scalars['ID']['output'];
  /** The job's overall progress (0 to 1) after the change. */
  jobProgress: Scalars['Float']['output'];
  /** The job's status after the change. */
  jobStatus: JobStatus;
  /** What happened. */
  kind: JobProgressEventKind;
  /** When it happened. */
  occurredAt: Scalars['DateTime']['output'];
  /** The stage the event is about (null for job-level events). */
  stage: Maybe<Scalars['String']['output']>;
  /** How many times that stage has been started. */
  stageAttempts: Maybe<Scalars['Int']['output']>;
  /** That stage's progress (0 to 1). */
  stageProgress: Maybe<Scalars['Float']['output']>;
  /** That stage's status after the change. */
  stageStatus: Maybe<StageStatus>;
};

/** What a job progress event reports. */
export type JobProgressEventKind =
  /** The job was cancelled (the last event). */
  | 'JOB_CANCELLED'
  /** The job succeeded (the last event). */
  | 'JOB_COMPLETED'
  /** The job failed (the last event). */
  | 'JOB_FAILED'
  /** The job was queued again. */
  | 'JOB_QUEUED'
  /** A running stage reported progress. */
  | 'PROGRESS'
  /** The job as stored when the subscription started (always first). */
  | 'SNAPSHOT'
  /** A stage was stopped, or will not run, because the job was cancelled; JOB_CANCELLED follows. */
  | 'STAGE_CANCELLED'
  /** A stage succeeded. */
  | 'STAGE_COMPLETED'
  /** A stage failed for good (see errorCode); JOB_FAILED follows. */
  | 'STAGE_FAILED'
  /** A stage failed transiently (see errorCode) and runs again after a backoff. */
  | 'STAGE_RETRYING'
  /** A stage started on a worker (again, after a retry). */
  | 'STAGE_STARTED';

/** How a job chooses its models (the routing policy: systemStatus.routing, docs/models.md). */
export type JobQuality =
  /** The accurate model on everything: an idle-time upgrade pass, or reprocessAsset(quality: ACCURATE). */
  | 'ACCURATE'
  /** Only the low-confidence spans of the stored fast transcript re-run on the accurate model; the better reading of each span replaces it. */
  | 'ESCALATION'
  /** The queue's route: the fast model first on realtime jobs (its unsure spans escalated, by default in an ESCALATION job that follows), the batch model on batch jobs. */
  | 'ROUTED';

/** One stage of a job (probe, scenes, transcribe, ...). */
export type JobStage = Node & {
  __typename?: 'JobStage';
  /** How many times the stage was started (retries included). */
  attempts: Scalars['Int']['output'];
  /** How long the last run took, in seconds. */
  durationSeconds: Maybe<Scalars['Float']['output']>;
  /** Code of the error that failed the stage, if it failed. */
  errorCode: Maybe<Scalars['String']['output']>;
  /** Message of the error that failed the stage, if it failed. */
  errorMessage: Maybe<Scalars['String']['output']>;
  /** When the stage finished. */
  finishedAt: Maybe<Scalars['DateTime']['output']>;
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
  /** The job the stage belongs to. */
  job: Maybe<Job>;
  /** Which models the stage ran (its retried runs included): calls, inputs, CPU and GPU seconds and the estimated quality of each; empty before it ran or without models. */
  modelUsage: Array<ModelUsage>;
  /** Models (name to version) the stage used (a JSON object). */
  modelVersions: Scalars['JSON']['output'];
  /** Stage name (see PipelineStage). */
  name: Scalars['String']['output'];
  /** Position in the pipeline, from 0. */
  ordinal: Scalars['Int']['output'];
  /** Progress of this stage from 0 to 1. */
  progress: Scalars['Float']['output'];
  /** Why the stage was skipped (e.g. it does not apply to images), if it was. */
  skipReason: Maybe<Scalars['String']['output']>;
  /** When the stage last started. */
  startedAt: Maybe<Scalars['DateTime']['output']>;
  /** Where the stage is in its life. */
  status: StageStatus;
  /** True while the stage waits for another worker because its own stopped mid-run (killed, crashed or hung: its lease ran out); it resumes on the next worker. */
  waitingToResume: Scalars['Boolean']['output'];
};

/** A page of a list, in the Relay connection shape. */
export type JobStageConnection = {
  __typename?: 'JobStageConnection';
  /** The rows of this page, in order. */
  edges: Array<JobStageEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** One row of a connection and its cursor. */
export type JobStageEdge = {
  __typename?: 'JobStageEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: JobStage;
};

/** Lifecycle of a job. */
export type JobStatus =
  /** Ended: cancelled with cancelJob (final; retryJob resumes it). */
  | 'CANCELLED'
  /** Ended: a stage failed for good, see errorCode (final; retryJob resumes it). */
  | 'FAILED'
  /** Created; no stage has started yet. */
  | 'QUEUED'
  /** A stage has started and the job has not ended. */
  | 'RUNNING'
  /** Ended: every stage that applies succeeded (final). */
  | 'SUCCEEDED';

/** The ID is not one this API issued. */
export type MalformedId = UserError & {
  __typename?: 'MalformedId';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** What a model's inputs are counted in. */
export type ModelInputUnit =
  /** Seconds of audio (speech models). */
  | 'AUDIO_SECONDS'
  /** Faces (face descriptor models). */
  | 'FACES'
  /** Images or video frames. */
  | 'IMAGES'
  /** Texts (text embedding models). */
  | 'TEXTS';

/** A model version loaded by live workers. */
export type ModelStatus = {
  __typename?: 'ModelStatus';
  /** Model name. */
  name: Scalars['String']['output'];
  /** Model version. */
  version: Scalars['String']['output'];
  /** How many live workers have it loaded. */
  workers: Scalars['Int']['output'];
};

/** What one model did for a stage, a job or an asset: its calls, inputs, time and estimated quality (see docs/models.md, 'Model usage'). */
export type ModelUsage = {
  __typename?: 'ModelUsage';
  /** Requests made to the model (a batch shared with other callers counts once each). */
  calls: Scalars['Int']['output'];
  /** Process CPU-seconds charged to the model: the thread of a call it ran alone by its own clock, and its stage's share of the rest while its calls were in flight (part of the job's cost.cpuSeconds). */
  cpuSeconds: Scalars['Float']['output'];
  /** GPU-seconds its calls used (0 on CPU backends). */
  gpuSeconds: Scalars['Float']['output'];
  /** What inputs counts. */
  inputUnit: ModelInputUnit;
  /** What the model was given, in inputUnit (cached results are not counted). */
  inputs: Scalars['Float']['output'];
  /** Estimated quality: mean confidence (0 to 1) of the outputs kept of this model (transcripts weighted by seconds of speech; OCR lines, labels and faces by row); null for models whose outputs carry none (embeddings). */
  meanConfidence: Maybe<Scalars['Float']['output']>;
  /** Name of the model. */
  name: Scalars['String']['output'];
  /** Stages whose runs used the model, in the order they first did. */
  stages: Array<Scalars['String']['output']>;
  /** The model's task (transcribe, ocr, labels, faces, embed_text, ...). */
  task: Scalars['String']['output'];
  /** Version of the model (as stamped on its outputs). */
  version: Scalars['String']['output'];
  /** Seconds the stages waited for the model's answers (queueing and batching included). */
  wallSeconds: Scalars['Float']['output'];
};

/** Everything a client can change. Every mutation is audited. */
export type Mutation = {
  __typename?: 'Mutation';
  /** Cancel a queued or running job. */
  cancelJob: CancelJobResult;
  /** Register an endpoint for some of the tenant's events (admin). */
  createWebhook: CreateWebhookResult;
  /** Delete an asset: it disappears from every query, search and similarity list at once. Its rows and bytes are kept; ingesting the same content again restores it. */
  deleteAsset: DeleteAssetResult;
  /** Remove an endpoint and its delivery log (admin). */
  deleteWebhook: DeleteWebhookResult;
  /** Hide a person from lists and assets (or show it again). */
  hidePerson: PersonResult;
  /** Register one asset from a server path or an upload and queue its processing. Idempotent: the same content returns the existing asset. */
  ingestAsset: IngestAssetResult;
  /** Register up to 50 assets; each item succeeds or fails on its own. Runs on the batch queue (behind interactive uploads). */
  ingestAssets: IngestAssetsResult;
  /** Merge people into one: their appearances move to `into` (kept there for good) and their IDs lead to it from now on. */
  mergePeople: PersonResult;
  /** Move appearances (Face IDs, from Person.appearances) to another person, or to a new one when `to` is null; they stay there for good. */
  moveFaces: PersonResult;
  /** Attempt a delivery again now; a dead-lettered one gets one more attempt (admin). */
  redeliverWebhook: RedeliverWebhookResult;
  /** Name a person (null or blank removes the name). Names are searchable. */
  renamePerson: PersonResult;
  /** Queue a new job re-running some stages (and everything downstream) over an asset. */
  reprocessAsset: ReprocessAssetResult;
  /** Resolve a near-duplicate cluster: mark its other assets as duplicates of `keep` (hidden from lists and search), or declare its pairs not duplicates (never suggested again). Decisions persist across reprocessing and are audited on every asset of the cluster. */
  resolveDuplicates: ResolveDuplicatesResult;
  /** Run a failed or cancelled job again from where it stopped; finished stages are kept. */
  retryJob: RetryJobResult;
  /** Change an asset's title, tags or metadata. */
  updateAsset: UpdateAssetResult;
  /** Change an endpoint's URL, events or whether it is active (admin). */
  updateWebhook: UpdateWebhookResult;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationCancelJobArgs = {
  input: CancelJobInput;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationCreateWebhookArgs = {
  input: CreateWebhookInput;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationDeleteAssetArgs = {
  input: DeleteAssetInput;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationDeleteWebhookArgs = {
  id: Scalars['ID']['input'];
};


/** Everything a client can change. Every mutation is audited. */
export type MutationHidePersonArgs = {
  hidden?: Scalars['Boolean']['input'];
  id: Scalars['ID']['input'];
};


/** Everything a client can change. Every mutation is audited. */
export type MutationIngestAssetArgs = {
  input: IngestAssetInput;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationIngestAssetsArgs = {
  input: IngestAssetsInput;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationMergePeopleArgs = {
  ids: Array<Scalars['ID']['input']>;
  into: Scalars['ID']['input'];
};


/** Everything a client can change. Every mutation is audited. */
export type MutationMoveFacesArgs = {
  ids: Array<Scalars['ID']['input']>;
  to?: InputMaybe<Scalars['ID']['input']>;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationRedeliverWebhookArgs = {
  id: Scalars['ID']['input'];
};


/** Everything a client can change. Every mutation is audited. */
export type MutationRenamePersonArgs = {
  id: Scalars['ID']['input'];
  name?: InputMaybe<Scalars['String']['input']>;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationReprocessAssetArgs = {
  input: ReprocessAssetInput;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationResolveDuplicatesArgs = {
  input: ResolveDuplicatesInput;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationRetryJobArgs = {
  input: RetryJobInput;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationUpdateAssetArgs = {
  input: UpdateAssetInput;
};


/** Everything a client can change. Every mutation is audited. */
export type MutationUpdateWebhookArgs = {
  input: UpdateWebhookInput;
};

/** An object with a Globally Unique ID */
export type Node = {
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
};

/** The entity does not exist or is not visible to the caller. */
export type NotFound = UserError & {
  __typename?: 'NotFound';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** Sort direction. */
export type OrderDirection =
  /** Ascending: oldest or A first. */
  | 'ASC'
  /** Descending: newest or Z first. */
  | 'DESC';

/** Where a page sits in its connection. */
export type PageInfo = {
  __typename?: 'PageInfo';
  /** Cursor of the last row; pass it as `after` for the next page. */
  endCursor: Maybe<Scalars['String']['output']>;
  /** Whether rows follow this page (ask with `after: endCursor`). */
  hasNextPage: Scalars['Boolean']['output'];
  /** Always false: connections page forwards only (Relay allows this). */
  hasPreviousPage: Scalars['Boolean']['output'];
  /** Cursor of the first row of this page. */
  startCursor: Maybe<Scalars['String']['output']>;
};

/** The local path lies outside the allowed ingestion roots. */
export type PathNotAllowed = UserError & {
  __typename?: 'PathNotAllowed';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** Which people to list. */
export type PeopleFilter = {
  /** Hidden people only (true), visible only (false, the default), or both (null). */
  hidden?: InputMaybe<Scalars['Boolean']['input']>;
  /** Name contains this (any case). */
  nameContains?: InputMaybe<Scalars['String']['input']>;
};

/** A person: face appearances clustered across the tenant's assets. */
export type Person = Node & {
  __typename?: 'Person';
  /** The person's appearances, by asset then time (at most `first`). */
  appearances: Array<PersonAppearance>;
  /** People seen in the same assets, most shared assets first (hidden ones left out). */
  coAppearing: Array<CoAppearance>;
  /** Signed URL of the cover face crop (the largest, most confident face), or null. */
  coverUrl: Maybe<Scalars['String']['output']>;
  /** How many appearances (face tracks) the person has on live assets. */
  faceCount: Scalars['Int']['output'];
  /** Whether an editor hid the person (left out of lists and assets). */
  hidden: Scalars['Boolean']['output'];
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
  /** The name an editor gave, or null. */
  name: Maybe<Scalars['String']['output']>;
};


/** A person: face appearances clustered across the tenant's assets. */
export type PersonAppearancesArgs = {
  first?: Scalars['Int']['input'];
};

/** One on-screen appearance of a person: a face track. */
export type PersonAppearance = {
  __typename?: 'PersonAppearance';
  /** The asset it is in. */
  asset: Maybe<Asset>;
  /** Signed URL of the face's crop (JPEG, fits 160 px), or null. */
  cropUrl: Maybe<Scalars['String']['output']>;
  /** Seconds from the asset start where it is last on screen. */
  endS: Scalars['Float']['output'];
  /** The appearance's ID (Face): what moveFaces moves. */
  id: Scalars['ID']['output'];
  /** Whether an editor placed it in this person (re-clustering never moves it). */
  locked: Scalars['Boolean']['output'];
  /** Seconds from the asset start where the face is first on screen (0 for an image). */
  startS: Scalars['Float']['output'];
};

/** A page of a list, in the Relay connection shape. */
export type PersonConnection = {
  __typename?: 'PersonConnection';
  /** The rows of this page, in order. */
  edges: Array<PersonEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** One row of a connection and its cursor. */
export type PersonEdge = {
  __typename?: 'PersonEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: Person;
};

/** The person, or why the change was not made. */
export type PersonResult = Forbidden | InvalidInput | MalformedId | NotFound | PersonSuccess | WrongIdType;

/** The person as it is after the change. */
export type PersonSuccess = {
  __typename?: 'PersonSuccess';
  /** The person changed (or created by moveFaces). */
  person: Person;
};

/** A stage of the media pipeline. */
export type PipelineStage =
  /** Recognise labels and faces (video and images). */
  | 'DETECT'
  /** Compute the text and image vectors of the asset and its scenes. */
  | 'EMBED'
  /** Write the asset and its moments to the search index. */
  | 'INDEX'
  /** Read on-screen text (video and images). */
  | 'OCR'
  /** Read the file's technical facts: container, codecs, duration, size. */
  | 'PROBE'
  /** Cut the asset into scenes (shots of a video, spans of audio, the frame of an image) with keyframes. */
  | 'SCENES'
  /** Link the asset and its scenes to near-duplicates and look-alikes. */
  | 'SIMILARITY'
  /** Extract a text document's text and cut it into chunks (text assets only). */
  | 'TEXT'
  /** Recognise speech, with word timings (video and audio). */
  | 'TRANSCRIBE';

/** Everything a client can read. */
export type Query = {
  __typename?: 'Query';
  /** The asset with this ID, or null if it does not exist (or was deleted). */
  asset: Maybe<Asset>;
  /** The caller's assets, filtered and sorted (newest first by default). */
  assets: AssetConnection;
  /** The caller's audit trail, newest first (admin scope). */
  auditEvents: AuditEventConnection;
  /** Groups of assets that are near-duplicates of one another (re-encodes, resized or recompressed copies), largest first; deleted assets never appear. */
  duplicates: DuplicateClusterConnection;
  /** Counts of kinds, tags, labels and languages over every live indexed asset (or moment) matching the filter, without search text: the sidebar of a browse page. */
  facets: Array<SearchFacet>;
  /** The job with this ID, or null if it does not exist. */
  job: Maybe<Job>;
  /** The caller's jobs, newest first. */
  jobs: JobConnection;
  /** Any object by its ID, or null if it does not exist for the caller. */
  node: Maybe<Node>;
  /** The tenant's people (with an appearance on a live asset, or a name), oldest first. */
  people: PersonConnection;
  /** The assets related to one asset, and to those (depth 2), as nodes and typed edges with reasons, for a graph view; at most `limit` nodes and `limit` edges. */
  relationGraph: RelationGraph;
  /** The scene with this ID, or null if it does not exist. */
  scene: Maybe<Scene>;
  /** Hybrid search over everything the pipeline found (titles, tags, speech, on-screen text, labels, and their vectors): moments with time codes to jump to, or whole assets, best first. */
  search: SearchConnection;
  /** Moments (or assets) that look like a picture: an uploaded image, or an existing asset (its own stored vectors; the asset itself is left out), best first. Give exactly one. */
  searchByImage: SearchConnection;
  /** Queue depths, live workers, loaded models, backend health and breaker states, checked now (each check is bounded to 5 seconds). */
  systemStatus: SystemStatus;
  /** The tenant's webhook deliveries, newest first, with every attempt. */
  webhookDeliveries: WebhookDeliveryConnection;
  /** The tenant's webhook endpoints, oldest first. */
  webhooks: WebhookConnection;
};


/** Everything a client can read. */
export type QueryAssetArgs = {
  id: Scalars['ID']['input'];
};


/** Everything a client can read. */
export type QueryAssetsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<AssetFilter>;
  first?: Scalars['Int']['input'];
  orderBy?: InputMaybe<AssetOrder>;
};


/** Everything a client can read. */
export type QueryAuditEventsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<AuditEventFilter>;
  first?: Scalars['Int']['input'];
};


/** Everything a client can read. */
export type QueryDuplicatesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<DuplicateFilter>;
  first?: Scalars['Int']['input'];
};


/** Everything a client can read. */
export type QueryFacetsArgs = {
  fields?: InputMaybe<Array<SearchFacetField>>;
  filter?: InputMaybe<SearchFilter>;
  scope?: SearchScope;
  size?: Scalars['Int']['input'];
};


/** Everything a client can read. */
export type QueryJobArgs = {
  id: Scalars['ID']['input'];
};


/** Everything a client can read. */
export type QueryJobsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
  status?: InputMaybe<Array<JobStatus>>;
};


/** Everything a client can read. */
export type QueryNodeArgs = {
  id: Scalars['ID']['input'];
};


/** Everything a client can read. */
export type QueryPeopleArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<PeopleFilter>;
  first?: Scalars['Int']['input'];
};


/** Everything a client can read. */
export type QueryRelationGraphArgs = {
  assetId: Scalars['ID']['input'];
  depth?: Scalars['Int']['input'];
  limit?: Scalars['Int']['input'];
};


/** Everything a client can read. */
export type QuerySceneArgs = {
  id: Scalars['ID']['input'];
};


/** Everything a client can read. */
export type QuerySearchArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
  query: SearchInput;
};


/** Everything a client can read. */
export type QuerySearchByImageArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  assetId?: InputMaybe<Scalars['ID']['input']>;
  filter?: InputMaybe<SearchFilter>;
  first?: Scalars['Int']['input'];
  image?: InputMaybe<Scalars['Upload']['input']>;
  scope?: SearchScope;
};


/** Everything a client can read. */
export type QueryWebhookDeliveriesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
  webhookId?: InputMaybe<Scalars['ID']['input']>;
};


/** Everything a client can read. */
export type QueryWebhooksArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};

/** One job queue as the broker reports it. */
export type QueueStatus = {
  __typename?: 'QueueStatus';
  /** Messages in the queue's dead letters (failed for good). */
  deadLetters: Scalars['Int']['output'];
  /** Messages waiting: ready plus delayed (retries waiting for their backoff). */
  depth: Scalars['Int']['output'];
  /** Queue name (realtime or batch). */
  name: Scalars['String']['output'];
  /** Age in seconds of the oldest ready message (0 when none is waiting). */
  oldestMessageAgeSeconds: Scalars['Float']['output'];
};

/** The caller used up a rate limit (per minute): retry after the given delay. */
export type RateLimited = UserError & {
  __typename?: 'RateLimited';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
  /** Seconds until the limit's window ends. */
  retryAfterSeconds: Scalars['Float']['output'];
};

/** The queued delivery, or why not. */
export type RedeliverWebhookResult = Forbidden | MalformedId | NotFound | RedeliverWebhookSuccess | WrongIdType;

/** The delivery is queued for an attempt now. */
export type RedeliverWebhookSuccess = {
  __typename?: 'RedeliverWebhookSuccess';
  /** The delivery (status PENDING). */
  delivery: WebhookDelivery;
};

/** Related assets, strongest first. */
export type RelatedAssetConnection = {
  __typename?: 'RelatedAssetConnection';
  /** The rows of this page, in order. */
  edges: Array<RelatedAssetEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** A related asset, why, and how much. */
export type RelatedAssetEdge = {
  __typename?: 'RelatedAssetEdge';
  /** Opaque position of this row; pass it as `after` to continue. */
  cursor: Scalars['String']['output'];
  /** The related asset. */
  node: Asset;
  /** Every reason they are related, in a fixed order, with its evidence. */
  reasons: Array<RelationReasonScore>;
  /** Combined score (0 to 1): 1 - the product of (1 - weight x score) over the reasons. */
  score: Scalars['Float']['output'];
};

/** A scene of each asset that look or mean alike. */
export type RelatedScenePair = {
  __typename?: 'RelatedScenePair';
  /** How they are alike: VISUAL (look) or SEMANTIC (meaning). */
  kind: SimilarityKind;
  /** The scene of the related asset (null if it was deleted meanwhile). */
  otherScene: Maybe<Scene>;
  /** The scene of the asset asked about (null if it was deleted meanwhile). */
  scene: Maybe<Scene>;
  /** How alike (0 to 1). */
  score: Scalars['Float']['output'];
};

/** The assets around one asset and how they relate. */
export type RelationGraph = {
  __typename?: 'RelationGraph';
  /** The edges: first those that reached each node (the graph is connected), then the strongest others between nodes; at most `limit`. */
  edges: Array<RelationGraphEdge>;
  /** The assets, the one asked about first, then breadth first (strongest first). */
  nodes: Array<Asset>;
};

/** A typed, undirected edge of a relation graph. */
export type RelationGraphEdge = {
  __typename?: 'RelationGraphEdge';
  /** Every reason they are related, with its evidence. */
  reasons: Array<RelationReasonScore>;
  /** Combined score (0 to 1). */
  score: Scalars['Float']['output'];
  /** The ID of one asset (a node of the graph; from it the other was found). */
  source: Scalars['ID']['output'];
  /** The ID of the other asset (a node of the graph). */
  target: Scalars['ID']['output'];
};

/** Why two assets are related. */
export type RelationReason =
  /** One is a copy of the other (re-encoded, resized, trimmed). */
  | 'NEAR_DUPLICATE'
  /** The same person appears in both. */
  | 'SAME_PERSON'
  /** Both show the same recognised things, weighted by how rare they are. */
  | 'SHARED_LABEL'
  /** Both show the same distinctive on-screen text (a code, a name). */
  | 'SHARED_TEXT'
  /** Some of their scenes look or mean alike. */
  | 'SIMILAR_SCENE';

/** One reason two assets are related, and its evidence. */
export type RelationReasonScore = {
  __typename?: 'RelationReasonScore';
  /** SAME_PERSON: the IDs of the people both assets show. */
  personIds: Array<Scalars['ID']['output']>;
  /** Why. */
  reason: RelationReason;
  /** SIMILAR_SCENE: the best scene pairs, best first (at most 5). */
  scenePairs: Array<RelatedScenePair>;
  /** How strongly this reason holds (0 to 1). */
  score: Scalars['Float']['output'];
  /** NEAR_DUPLICATE (and documents' SIMILAR_SCENE): the similarity links behind it. */
  similarities: Array<SimilarityEdge>;
  /** SHARED_TEXT: the shared on-screen words and phrases, rarest first; SHARED_LABEL: the shared labels, rarest first (at most 5). */
  terms: Array<Scalars['String']['output']>;
  /** How much this reason counts towards the combined score (0 to 1). */
  weight: Scalars['Float']['output'];
};

/** Run (part of) the pipeline again over an asset. */
export type ReprocessAssetInput = {
  /** The asset to reprocess. */
  id: Scalars['ID']['input'];
  /** How the job chooses its models: ACCURATE runs the accurate ones (today: speech) instead of the batch queue's route. */
  quality?: JobQuality;
  /** Stages to re-run, with everything downstream of them; omitted or empty: the whole pipeline. */
  stages?: InputMaybe<Array<PipelineStage>>;
};

/** The new job, or why none was queued. */
export type ReprocessAssetResult = Backpressure | Forbidden | InvalidInput | InvalidState | MalformedId | NotFound | ReprocessAssetSuccess | WrongIdType;

/** A new job was queued. */
export type ReprocessAssetSuccess = {
  __typename?: 'ReprocessAssetSuccess';
  /** The new job. */
  job: Job;
};

/** A verdict on one near-duplicate cluster. */
export type ResolveDuplicatesInput = {
  /** The verdict. */
  action: DuplicateAction;
  /** The cluster's `id` (from `duplicates`). */
  clusterId: Scalars['ID']['input'];
  /** The asset of the cluster to keep (an Asset ID). */
  keep: Scalars['ID']['input'];
};

/** The verdict, or why it was not recorded. */
export type ResolveDuplicatesResult = Forbidden | InvalidInput | MalformedId | NotFound | ResolveDuplicatesSuccess | WrongIdType;

/** The verdict is recorded. */
export type ResolveDuplicatesSuccess = {
  __typename?: 'ResolveDuplicatesSuccess';
  /** The assets now hidden as duplicates of `kept` (empty for NOT_DUPLICATES). */
  hidden: Array<Asset>;
  /** The asset kept. */
  kept: Asset;
  /** How many pairs of assets the verdict was recorded for. */
  pairCount: Scalars['Int']['output'];
};

/** The job to retry. */
export type RetryJobInput = {
  /** The failed or cancelled job to run again. */
  id: Scalars['ID']['input'];
};

/** The job queued again, or why it was not. */
export type RetryJobResult = Backpressure | Forbidden | InvalidState | MalformedId | NotFound | RetryJobSuccess | WrongIdType;

/** The job is queued again. */
export type RetryJobSuccess = {
  __typename?: 'RetryJobSuccess';
  /** The job, queued again from the stage where it stopped. */
  job: Job;
};

/** Which model serves a task on a queue, and when its output escalates. */
export type RoutingRule = {
  __typename?: 'RoutingRule';
  /** Model (name:version) low-confidence output is re-run on; null: no escalation. */
  escalatesTo: Maybe<Scalars['String']['output']>;
  /** Where the escalation runs: followup (an ESCALATION job on the batch queue once the job completes, so first results come as fast as the fast model alone) or inline (inside the job's own stage); null: no escalation. */
  escalation: Maybe<Scalars['String']['output']>;
  /** When output counts as low-confidence (calibrated thresholds); null: no escalation. */
  escalationRule: Maybe<Scalars['String']['output']>;
  /** Model (name:version) of the first pass of this task's jobs on this queue. */
  model: Scalars['String']['output'];
  /** The job queue (realtime or batch). */
  queue: Scalars['String']['output'];
  /** The model task (transcribe). */
  task: Scalars['String']['output'];
  /** Model (name:version) the idle-time upgrade pass re-runs this queue's output on (an ACCURATE job while the batch queue is idle); null: no upgrade pass for it. */
  upgradesTo: Maybe<Scalars['String']['output']>;
};

/** A shot of a video, the single frame of an image, or a span of audio. */
export type Scene = Node & {
  __typename?: 'Scene';
  /** The asset the scene belongs to. */
  asset: Maybe<Asset>;
  /** Labels, faces and on-screen text found in the scene, in time order. */
  detections: DetectionConnection;
  /** Length of the scene in seconds. */
  durationSeconds: Scalars['Float']['output'];
  /** End, in seconds from the beginning of the asset. */
  endSeconds: Scalars['Float']['output'];
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
  /** URL of the keyframe image (same origin as the API), once extracted: signed, it loads without a header and expires (signed_url_ttl_seconds). */
  keyframeUrl: Maybe<Scalars['String']['output']>;
  /** Model that found the scene. */
  modelName: Scalars['String']['output'];
  /** Version of that model. */
  modelVersion: Scalars['String']['output'];
  /** Position of the scene in its asset, from 0. */
  ordinal: Scalars['Int']['output'];
  /** The people seen in this scene (not hidden ones), by first appearance. */
  people: Array<Person>;
  /** Scenes (of any asset) that look or read alike, best score first. */
  similarScenes: SimilarSceneConnection;
  /** Start, in seconds from the beginning of the asset. */
  startSeconds: Scalars['Float']['output'];
  /** URL of a small thumbnail of the keyframe, once extracted (signed like keyframeUrl). */
  thumbnailUrl: Maybe<Scalars['String']['output']>;
  /** Transcript segments spoken during the scene (overlapping its time span), in time order. */
  transcript: TranscriptSegmentConnection;
};


/** A shot of a video, the single frame of an image, or a span of audio. */
export type SceneDetectionsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<DetectionFilter>;
  first?: Scalars['Int']['input'];
};


/** A shot of a video, the single frame of an image, or a span of audio. */
export type SceneSimilarScenesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<SimilarityFilter>;
  first?: Scalars['Int']['input'];
};


/** A shot of a video, the single frame of an image, or a span of audio. */
export type SceneTranscriptArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  contains?: InputMaybe<Scalars['String']['input']>;
  first?: Scalars['Int']['input'];
};

/** A page of a list, in the Relay connection shape. */
export type SceneConnection = {
  __typename?: 'SceneConnection';
  /** The rows of this page, in order. */
  edges: Array<SceneEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** One row of a connection and its cursor. */
export type SceneEdge = {
  __typename?: 'SceneEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: Scene;
};

/** A page of search hits, best first. */
export type SearchConnection = {
  __typename?: 'SearchConnection';
  /** The hits of this page, in order. */
  edges: Array<SearchEdge>;
  /** Counts of values over the documents matching the filter (not the text). */
  facets: Array<SearchFacet>;
  /** The index generation that answered. */
  generation: Scalars['String']['output'];
  /** Pagination state of this page. */
  pageInfo: PageInfo;
  /** The retrievers that ran (HYBRID without a usable vector model runs TEXT only). */
  retrievers: Array<SearchRetriever>;
  /** Fused candidates available to page through (each retriever contributes up to its top 100, or more on deep pages). */
  totalCount: Scalars['Int']['output'];
};


/** A page of search hits, best first. */
export type SearchConnectionFacetsArgs = {
  fields?: InputMaybe<Array<SearchFacetField>>;
  size?: Scalars['Int']['input'];
};

/** One hit and its cursor. */
export type SearchEdge = {
  __typename?: 'SearchEdge';
  /** Opaque position; pass it as `after` to continue after this hit. */
  cursor: Scalars['String']['output'];
  /** The hit. */
  node: SearchHit;
};

/** Counts of one field's values. */
export type SearchFacet = {
  __typename?: 'SearchFacet';
  /** The counted field. */
  field: SearchFacetField;
  /** Most frequent first, ties by value. */
  values: Array<SearchFacetValue>;
};

/** Fields search facets can count. */
export type SearchFacetField =
  /** The asset kind (video, audio, image, text). */
  | 'KIND'
  /** Recognised labels. */
  | 'LABELS'
  /** The detected or given language. */
  | 'LANGUAGE'
  /** The asset's tags. */
  | 'TAGS';

/** A value of a facet and how many documents carry it. */
export type SearchFacetValue = {
  __typename?: 'SearchFacetValue';
  /** Documents of the search's scope carrying it. */
  count: Scalars['Int']['output'];
  /** The value (for KIND: video, audio, image or text). */
  value: Scalars['String']['output'];
};

/** Structured conditions; every given one must hold. */
export type SearchFilter = {
  /** Keep hits of these assets only (e.g. search inside one video). */
  assetIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  /** Keep assets registered at or after this time. */
  createdAfter?: InputMaybe<Scalars['DateTime']['input']>;
  /** Keep assets registered before this time. */
  createdBefore?: InputMaybe<Scalars['DateTime']['input']>;
  /** Also find assets an editor marked as duplicates of another (resolveDuplicates); hidden by default. */
  includeDuplicates?: Scalars['Boolean']['input'];
  /** Keep assets of any of these kinds. */
  kinds?: InputMaybe<Array<AssetKind>>;
  /** Keep hits showing all these labels (a moment's own labels; an asset's from any scene). */
  labels?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Keep assets in any of these languages (BCP 47, as detected). */
  languages?: InputMaybe<Array<Scalars['String']['input']>>;
  /** Keep assets at most this long. */
  maxDurationSeconds?: InputMaybe<Scalars['Float']['input']>;
  /** Keep assets whose metadata has all these key/value pairs (a JSON object of strings, numbers and booleans; 2 and 2.0 are equal). */
  metadata?: InputMaybe<Scalars['JSON']['input']>;
  /** Keep assets at least this long. */
  minDurationSeconds?: InputMaybe<Scalars['Float']['input']>;
  /** Keep hits of assets where any of these people (Person IDs) appear; hidden people match nothing. */
  personIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  /** Keep assets carrying all these tags. */
  tags?: InputMaybe<Array<Scalars['String']['input']>>;
};

/** A fragment of a matched text field. */
export type SearchHighlight = {
  __typename?: 'SearchHighlight';
  /** The field the fragment comes from. */
  field: SearchTextField;
  /** HTML-escaped text with the matched words inside <mark>...</mark>. */
  fragment: Scalars['String']['output'];
};

/** One result: a moment of an asset, or an asset as a whole. */
export type SearchHit = {
  __typename?: 'SearchHit';
  /** The asset of the hit. */
  asset: Asset;
  /** End of the moment in seconds (null for asset hits). */
  endSeconds: Maybe<Scalars['Float']['output']>;
  /** Matched text fragments. */
  highlights: Array<SearchHighlight>;
  /** MOMENT or ASSET. */
  kind: SearchHitKind;
  /** Text fields with a match. */
  matchedFields: Array<SearchTextField>;
  /** Where a player should start: the first matched time code, else the moment's start (0 for assets). */
  playFromSeconds: Scalars['Float']['output'];
  /** Each retriever's rank of this hit. */
  ranks: Array<SearchRank>;
  /** Calibrated chance, 0 to 1, that this hit answers the search: the same scale for every query and mode (fitted per retriever on a labelled set), so a threshold means the same everywhere. */
  relevance: Scalars['Float']['output'];
  /** The scene of a moment (null for asset hits and for chunks of text documents). */
  scene: Maybe<Scene>;
  /** Fused score that orders the hits (reciprocal rank fusion, or the relevance itself when the server fuses by calibrated relevance); higher is better, comparable within one search only. */
  score: Scalars['Float']['output'];
  /** Start of the moment in seconds (null for asset hits). */
  startSeconds: Maybe<Scalars['Float']['output']>;
  /** Matched transcript segments and on-screen lines, in time order. */
  timeCodes: Array<SearchTimeCode>;
};

/** What a hit stands for. */
export type SearchHitKind =
  /** An asset as a whole. */
  | 'ASSET'
  /** A scene of an asset (or a chunk of a text). */
  | 'MOMENT';

/** What to search for, how, and among what. */
export type SearchInput = {
  /** Structured conditions. */
  filter?: InputMaybe<SearchFilter>;
  /** Drop hits whose relevance (0 to 1) is below this; unset applies the server's default cutoff (MEDIAKG_SEARCH_MIN_RELEVANCE) in SEMANTIC and HYBRID mode, none in TEXT; 0 keeps every hit. A search with no good match returns an empty or short page. */
  minRelevance?: InputMaybe<Scalars['Float']['input']>;
  /** Drop hits whose fused score is below this (RRF: about 0.016 per retriever at rank 1). */
  minScore?: InputMaybe<Scalars['Float']['input']>;
  /** TEXT matches words (BM25), SEMANTIC meaning (vectors), HYBRID fuses both. */
  mode?: SearchMode;
  /** Return moments (default) or whole assets. */
  scope?: SearchScope;
  /** The words or sentence to find (1 to 1000 characters). */
  text: Scalars['String']['input'];
};

/** Which retrievers answer a search. */
export type SearchMode =
  /** Both, fused by reciprocal rank fusion. */
  | 'HYBRID'
  /** Meaning only: kNN of the text's embeddings over the vector fields. */
  | 'SEMANTIC'
  /** Words only: BM25 over the text fields. */
  | 'TEXT';

/** How one retriever ranked a hit before fusion. */
export type SearchRank = {
  __typename?: 'SearchRank';
  /** 1-based rank in that retriever's list. */
  rank: Scalars['Int']['output'];
  /** Which retriever. */
  retriever: SearchRetriever;
  /** That retriever's score: BM25, or cosine similarity in [-1, 1]. */
  score: Scalars['Float']['output'];
};

/** One ranked list that search fuses. */
export type SearchRetriever =
  /** BM25 over the text fields. */
  | 'TEXT'
  /** kNN over keyframes described by their ImageNet labels in MiniLM's space. */
  | 'VECTOR_BRIDGE'
  /** kNN of a CLIP embedding over keyframes' CLIP image vectors (if configured). */
  | 'VECTOR_CLIP'
  /** kNN of the MiniLM text embedding over moments' words. */
  | 'VECTOR_TEXT'
  /** kNN of a picture's MobileNetV2 features over keyframes. */
  | 'VECTOR_VISUAL';

/** What a search returns. */
export type SearchScope =
  /** Whole assets. */
  | 'ASSET'
  /** Scenes of assets, with their time range. */
  | 'MOMENT';

/** Text fields a search matches and highlights. */
export type SearchTextField =
  /** The asset's or moment's description. */
  | 'DESCRIPTION'
  /** Recognised labels (ImageNet classes). */
  | 'LABELS'
  /** Text shown on screen or in the picture. */
  | 'OCR'
  /** The asset's tags. */
  | 'TAGS'
  /** The asset's title. */
  | 'TITLE'
  /** What is said (speech, or a text's words). */
  | 'TRANSCRIPT';

/** Where a matched word is spoken (transcript) or shown (on-screen text): a player can jump there. */
export type SearchTimeCode = {
  __typename?: 'SearchTimeCode';
  /** End, in seconds from the beginning of the asset. */
  endSeconds: Scalars['Float']['output'];
  /** TRANSCRIPT or OCR. */
  field: SearchTextField;
  /** Start, in seconds from the beginning of the asset. */
  startSeconds: Scalars['Float']['output'];
  /** The segment or line (plain text). */
  text: Scalars['String']['output'];
};

/** Similar assets, best score first. */
export type SimilarAssetConnection = {
  __typename?: 'SimilarAssetConnection';
  /** The rows of this page, in order. */
  edges: Array<SimilarAssetEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** A similar asset, with how and how much it is similar. */
export type SimilarAssetEdge = {
  __typename?: 'SimilarAssetEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** Why they are linked. */
  kind: SimilarityKind;
  /** The similar asset. */
  node: Asset;
  /** How alike (0 to 1, higher is closer). */
  score: Scalars['Float']['output'];
  /** The link itself (model, version, both ends). */
  similarity: SimilarityEdge;
};

/** Similar scenes, best score first. */
export type SimilarSceneConnection = {
  __typename?: 'SimilarSceneConnection';
  /** The rows of this page, in order. */
  edges: Array<SimilarSceneEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** A similar scene, with how and how much it is similar. */
export type SimilarSceneEdge = {
  __typename?: 'SimilarSceneEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** Why they are linked. */
  kind: SimilarityKind;
  /** The similar scene. */
  node: Scene;
  /** How alike (0 to 1, higher is closer). */
  score: Scalars['Float']['output'];
  /** The link itself (model, version, both ends). */
  similarity: SimilarityEdge;
};

/** A scored similarity link between two assets or two scenes. */
export type SimilarityEdge = Node & {
  __typename?: 'SimilarityEdge';
  /** When the link was computed. */
  createdAt: Scalars['DateTime']['output'];
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
  /** Why the two are linked. */
  kind: SimilarityKind;
  /** Model that scored the link. */
  modelName: Scalars['String']['output'];
  /** Version of that model. */
  modelVersion: Scalars['String']['output'];
  /** How alike they are (0 to 1, higher is closer). */
  score: Scalars['Float']['output'];
  /** One end of the link (links are symmetric: source and target are interchangeable). */
  source: Maybe<SimilarityEndpoint>;
  /** The other end of the link. */
  target: Maybe<SimilarityEndpoint>;
};

/** An end of a similarity link: an asset or a scene. */
export type SimilarityEndpoint = Asset | Scene;

/** Which similarity links to follow. */
export type SimilarityFilter = {
  /** Keep links of these kinds. */
  kind?: InputMaybe<Array<SimilarityKind>>;
  /** Keep links scoring at least this (0 to 1). */
  minScore?: InputMaybe<Scalars['Float']['input']>;
};

/** Why two assets or scenes are linked. */
export type SimilarityKind =
  /** Two assets of the same kind with the same content (re-encoded, resized or trimmed copies). */
  | 'NEAR_DUPLICATE'
  /** Two scenes (or text documents) about the same thing: what is shown, written and said. */
  | 'SEMANTIC'
  /** Two scenes whose keyframes look alike. */
  | 'VISUAL';

/** Lifecycle of one stage of a job. */
export type StageStatus =
  /** Stopped, or never started, because the job was cancelled. */
  | 'CANCELLED'
  /** Failed for good (see errorCode); the job failed with it. */
  | 'FAILED'
  /** Waiting for the stages it depends on. */
  | 'PENDING'
  /** Sent to the workers and waiting for one (or for its retry after a transient failure). */
  | 'QUEUED'
  /** Running on a worker. */
  | 'RUNNING'
  /** Not run: it does not apply to the asset's kind or was not requested (see skipReason). */
  | 'SKIPPED'
  /** Finished; what it found is stored. */
  | 'SUCCEEDED';

/** Live streams (graphql-transport-ws or multipart HTTP). */
export type Subscription = {
  __typename?: 'Subscription';
  /** Changes of an asset: first a SNAPSHOT (the asset now), then edits, the end of each of its jobs, and its deletion (which ends the stream). */
  assetEvents: AssetEvent;
  /** A job's progress: first a SNAPSHOT of its current state (a late subscriber misses nothing), then every stage start, progress step, completion and failure, ending with the event that puts the job in a final state. A job already finished yields its SNAPSHOT and ends. */
  jobProgress: JobProgressEvent;
};


/** Live streams (graphql-transport-ws or multipart HTTP). */
export type SubscriptionAssetEventsArgs = {
  assetId: Scalars['ID']['input'];
};


/** Live streams (graphql-transport-ws or multipart HTTP). */
export type SubscriptionJobProgressArgs = {
  jobId: Scalars['ID']['input'];
};

/** The deployment's health as this API process sees it. */
export type SystemStatus = {
  __typename?: 'SystemStatus';
  /** Database, broker, search and inference, in that order. */
  backends: Array<BackendHealth>;
  /** Circuit breakers of the live workers' model backends, and of this API process's. */
  breakers: Array<BreakerStatus>;
  /** When the checks ran. */
  checkedAt: Scalars['DateTime']['output'];
  /** Model versions the live workers have loaded. */
  modelsLoaded: Array<ModelStatus>;
  /** Every job queue, by name. */
  queues: Array<QueueStatus>;
  /** The routing policy: per task and queue, the model and its escalation rule. */
  routing: Array<RoutingRule>;
  /** The live worker processes, by id. */
  workers: Array<WorkerStatus>;
  /** How many worker processes sent a heartbeat in the last 30 seconds. */
  workersAlive: Scalars['Int']['output'];
};

/** A span of recognised speech (or a chunk of a text document) with word timings. */
export type TranscriptSegment = Node & {
  __typename?: 'TranscriptSegment';
  /** The asset the segment belongs to. */
  asset: Maybe<Asset>;
  /** Recogniser confidence in the segment (0 to 1), if known. */
  confidence: Maybe<Scalars['Float']['output']>;
  /** End, in seconds from the beginning of the asset; for a chunk of a text document, the character offset where it ends. */
  endSeconds: Scalars['Float']['output'];
  /** The Globally Unique ID of this object */
  id: Scalars['ID']['output'];
  /** Language of the text (BCP 47), if detected. */
  language: Maybe<Scalars['String']['output']>;
  /** Model that produced the segment (the accurate model where a low-confidence span was escalated to it). */
  modelName: Scalars['String']['output'];
  /** Version of that model. */
  modelVersion: Scalars['String']['output'];
  /** The scene the transcriber attributed the segment to, if any. */
  scene: Maybe<Scene>;
  /** Start, in seconds from the beginning of the asset; for a chunk of a text document, the character offset where it starts. */
  startSeconds: Scalars['Float']['output'];
  /** The recognised text, or the chunk's text for a document. */
  text: Scalars['String']['output'];
  /** Every word with its timing, in order (a segment holds a sentence or so). */
  words: Array<WordTiming>;
};

/** A page of a list, in the Relay connection shape. */
export type TranscriptSegmentConnection = {
  __typename?: 'TranscriptSegmentConnection';
  /** The rows of this page, in order. */
  edges: Array<TranscriptSegmentEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** One row of a connection and its cursor. */
export type TranscriptSegmentEdge = {
  __typename?: 'TranscriptSegmentEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: TranscriptSegment;
};

/** The file is missing, not a regular file or cannot be read. */
export type UnreadableFile = UserError & {
  __typename?: 'UnreadableFile';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** The content is of no kind the service can analyse. */
export type UnsupportedMedia = UserError & {
  __typename?: 'UnsupportedMedia';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** Changes to an asset; omitted fields stay as they are. */
export type UpdateAssetInput = {
  /** The asset to change. */
  id: Scalars['ID']['input'];
  /** New metadata (replaces the old object). */
  metadata?: InputMaybe<Scalars['JSON']['input']>;
  /** New tags (replace the old ones). */
  tags?: InputMaybe<Array<Scalars['String']['input']>>;
  /** New title. */
  title?: InputMaybe<Scalars['String']['input']>;
};

/** The changed asset, or why it was not changed. */
export type UpdateAssetResult = Forbidden | InvalidInput | MalformedId | NotFound | UpdateAssetSuccess | WrongIdType;

/** The asset after the change. */
export type UpdateAssetSuccess = {
  __typename?: 'UpdateAssetSuccess';
  /** The changed asset. */
  asset: Asset;
};

/** What to change of an endpoint (omitted: kept). */
export type UpdateWebhookInput = {
  /** false: pause deliveries. */
  active?: InputMaybe<Scalars['Boolean']['input']>;
  /** New event types. */
  events?: InputMaybe<Array<Scalars['String']['input']>>;
  /** The endpoint. */
  id: Scalars['ID']['input'];
  /** A new URL (checked like at creation). */
  url?: InputMaybe<Scalars['String']['input']>;
};

/** The endpoint, or why it was not changed. */
export type UpdateWebhookResult = Forbidden | InvalidInput | MalformedId | NotFound | UrlNotAllowed | WebhookSuccess | WrongIdType;

/** The URL may not be fetched: not http(s), with credentials, or its host resolves to a loopback, private, link-local, multicast, reserved or cloud-metadata address. */
export type UrlNotAllowed = UserError & {
  __typename?: 'UrlNotAllowed';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** A failure the caller caused and can correct. */
export type UserError = {
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

/** Stable machine-readable codes of user errors. */
export type UserErrorCode =
  /** The queue is full; retry after retryAfterSeconds. */
  | 'BACKPRESSURE'
  /** The batch holds more items than allowed. */
  | 'BATCH_TOO_LARGE'
  /** The file or upload holds no bytes. */
  | 'EMPTY_FILE'
  /** Fetching the URL failed: no answer, an HTTP error status, too many redirects or too slow. */
  | 'FETCH_FAILED'
  /** The file or upload exceeds the size limit (see maxBytes). */
  | 'FILE_TOO_LARGE'
  /** The API key lacks the scope the operation needs (see docs/security.md). */
  | 'FORBIDDEN'
  /** The idempotency key was used before with other content. */
  | 'IDEMPOTENCY_CONFLICT'
  /** An argument is out of range or malformed (see field). */
  | 'INVALID_INPUT'
  /** The entity is not in a state that allows the operation (e.g. a job still running). */
  | 'INVALID_STATE'
  /** The ID is not a global ID this API issued. */
  | 'MALFORMED_ID'
  /** The entity does not exist, is deleted, or is not visible to the caller. */
  | 'NOT_FOUND'
  /** The local path lies outside the allowed ingestion roots. */
  | 'PATH_NOT_ALLOWED'
  /** The caller used up a rate limit; retry after retryAfterSeconds. */
  | 'RATE_LIMITED'
  /** The file does not exist, is not a regular file, or cannot be read. */
  | 'UNREADABLE_FILE'
  /** The content is of a kind the service cannot analyse. */
  | 'UNSUPPORTED_MEDIA'
  /** The URL may not be fetched: not http(s), with credentials, or its host resolves to a non-public address. */
  | 'URL_NOT_ALLOWED'
  /** The ID is valid but names an entity of another type than the argument expects. */
  | 'WRONG_ID_TYPE';

/** An endpoint that receives the tenant's events, signed. */
export type Webhook = {
  __typename?: 'Webhook';
  /** Whether it receives deliveries. */
  active: Scalars['Boolean']['output'];
  /** When it was registered. */
  createdAt: Scalars['DateTime']['output'];
  /** The event types it receives (job.succeeded, job.failed, asset.ready, asset.deleted). */
  events: Array<Scalars['String']['output']>;
  /** The ID (Webhook). */
  id: Scalars['ID']['output'];
  /** Where events are POSTed. */
  url: Scalars['String']['output'];
};

/** One HTTP request of a delivery. */
export type WebhookAttempt = {
  __typename?: 'WebhookAttempt';
  /** How long the request took, in milliseconds. */
  durationMs: Scalars['Float']['output'];
  /** Why it failed (null when it succeeded). */
  error: Maybe<Scalars['String']['output']>;
  /** 1 for the first attempt, then 2, 3, ... */
  number: Scalars['Int']['output'];
  /** When it was sent. */
  startedAt: Scalars['DateTime']['output'];
  /** The receiver's HTTP status; null: no answer. */
  statusCode: Maybe<Scalars['Int']['output']>;
};

/** A page of a list, in the Relay connection shape. */
export type WebhookConnection = {
  __typename?: 'WebhookConnection';
  /** The rows of this page, in order. */
  edges: Array<WebhookEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** One event for one endpoint, and every attempt at it. */
export type WebhookDelivery = {
  __typename?: 'WebhookDelivery';
  /** Attempts made so far. */
  attemptCount: Scalars['Int']['output'];
  /** Every attempt, first to last, with status codes and timings. */
  attempts: Array<WebhookAttempt>;
  /** When the event happened. */
  createdAt: Scalars['DateTime']['output'];
  /** When the receiver accepted it. */
  deliveredAt: Maybe<Scalars['DateTime']['output']>;
  /** The idempotency id (a UUID): the `Idempotency-Key` header and the body's `id`. */
  eventId: Scalars['String']['output'];
  /** The event type. */
  eventType: Scalars['String']['output'];
  /** The ID (WebhookDelivery); also the idempotency id sent as `Idempotency-Key`. */
  id: Scalars['ID']['output'];
  /** The HTTP status of the last attempt (null: none yet, or no answer). */
  lastStatusCode: Maybe<Scalars['Int']['output']>;
  /** When the next attempt is due (null once delivered or dead). */
  nextAttemptAt: Maybe<Scalars['DateTime']['output']>;
  /** Where the delivery stands. */
  status: WebhookDeliveryStatus;
  /** The endpoint's ID (Webhook). */
  webhookId: Scalars['ID']['output'];
};

/** A page of a list, in the Relay connection shape. */
export type WebhookDeliveryConnection = {
  __typename?: 'WebhookDeliveryConnection';
  /** The rows of this page, in order. */
  edges: Array<WebhookDeliveryEdge>;
  /** Pagination state of this page. */
  pageInfo: PageInfo;
};

/** One row of a connection and its cursor. */
export type WebhookDeliveryEdge = {
  __typename?: 'WebhookDeliveryEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: WebhookDelivery;
};

/** Where a delivery of an event to a webhook stands. */
export type WebhookDeliveryStatus =
  /** Every attempt of the retry schedule failed (final; redeliverWebhook tries again). */
  | 'DEAD'
  /** Queued: the first attempt or a retry is due at nextAttemptAt. */
  | 'PENDING'
  /** The receiver answered 2xx (final). */
  | 'SUCCEEDED';

/** One row of a connection and its cursor. */
export type WebhookEdge = {
  __typename?: 'WebhookEdge';
  /** Opaque position of this row; pass it as `after` to continue after it. */
  cursor: Scalars['String']['output'];
  /** The row. */
  node: Webhook;
};

/** The endpoint as it is now. */
export type WebhookSuccess = {
  __typename?: 'WebhookSuccess';
  /** The endpoint. */
  webhook: Webhook;
};

/** One recognised word and when it was spoken. */
export type WordTiming = {
  __typename?: 'WordTiming';
  /** When the word ends, in seconds from the asset start. */
  endSeconds: Scalars['Float']['output'];
  /** Recogniser confidence in the word (0 to 1). */
  probability: Maybe<Scalars['Float']['output']>;
  /** When the word starts, in seconds from the asset start. */
  startSeconds: Scalars['Float']['output'];
  /** The word as recognised (may carry leading spaces or punctuation). */
  word: Scalars['String']['output'];
};

/** A worker process that sent a heartbeat recently. */
export type WorkerStatus = {
  __typename?: 'WorkerStatus';
  /** host:pid of the worker (the lease owner its stages show). */
  id: Scalars['String']['output'];
  /** Seconds since its last heartbeat. */
  lastSeenSecondsAgo: Scalars['Float']['output'];
  /** Models (name:version) it has loaded. */
  modelsLoaded: Array<Scalars['String']['output']>;
};

/** The ID belongs to another type than the field expects. */
export type WrongIdType = UserError & {
  __typename?: 'WrongIdType';
  /** Stable code to branch on. */
  code: UserErrorCode;
  /** Path to the input field at fault (e.g. ["input", "source", "path"]), if one is. */
  field: Maybe<Array<Scalars['String']['output']>>;
  /** What went wrong, in a sentence for humans. */
  message: Scalars['String']['output'];
};

export type ExplorerAssetQueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type ExplorerAssetQuery = { __typename?: 'Query', asset: { __typename?: 'Asset', id: string, title: string, kind: AssetKind, status: AssetStatus, mimeType: string, contentUrl: string, sizeBytes: number, durationSeconds: number | null, width: number | null, height: number | null, language: string | null, tags: Array<string>, sourceUri: string | null, createdAt: string, scenes: { __typename?: 'SceneConnection', edges: Array<{ __typename?: 'SceneEdge', node: { __typename?: 'Scene', id: string, ordinal: number, startSeconds: number, endSeconds: number, thumbnailUrl: string | null, keyframeUrl: string | null } }> }, transcript: { __typename?: 'TranscriptSegmentConnection', edges: Array<{ __typename?: 'TranscriptSegmentEdge', node: { __typename?: 'TranscriptSegment', id: string, startSeconds: number, endSeconds: number, text: string } }> }, detections: { __typename?: 'DetectionConnection', edges: Array<{ __typename?: 'DetectionEdge', node: { __typename?: 'Detection', id: string, kind: DetectionKind, label: string, confidence: number, timeSeconds: number } }> }, related: { __typename?: 'RelatedAssetConnection', edges: Array<{ __typename?: 'RelatedAssetEdge', score: number, reasons: Array<{ __typename?: 'RelationReasonScore', reason: RelationReason, score: number, terms: Array<string> }>, node: { __typename?: 'Asset', id: string, title: string, kind: AssetKind, scenes: { __typename?: 'SceneConnection', edges: Array<{ __typename?: 'SceneEdge', node: { __typename?: 'Scene', thumbnailUrl: string | null } }> } } }> }, jobs: { __typename?: 'JobConnection', edges: Array<{ __typename?: 'JobEdge', node: { __typename?: 'Job', id: string, pipeline: string, quality: JobQuality, status: JobStatus, progress: number, currentStage: string | null, errorCode: string | null, errorMessage: string | null, createdAt: string, stages: { __typename?: 'JobStageConnection', edges: Array<{ __typename?: 'JobStageEdge', node: { __typename?: 'JobStage', name: string, status: StageStatus, progress: number, attempts: number, errorCode: string | null, errorMessage: string | null, skipReason: string | null } }> } } }> } } | null };

export type ExplorerJobFragment = { __typename?: 'Job', id: string, pipeline: string, quality: JobQuality, status: JobStatus, progress: number, currentStage: string | null, errorCode: string | null, errorMessage: string | null, createdAt: string, stages: { __typename?: 'JobStageConnection', edges: Array<{ __typename?: 'JobStageEdge', node: { __typename?: 'JobStage', name: string, status: StageStatus, progress: number, attempts: number, errorCode: string | null, errorMessage: string | null, skipReason: string | null } }> } };

export type ExplorerAssetAuditQueryVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type ExplorerAssetAuditQuery = { __typename?: 'Query', asset: { __typename?: 'Asset', id: string, auditEvents: { __typename?: 'AuditEventConnection', edges: Array<{ __typename?: 'AuditEventEdge', node: { __typename?: 'AuditEvent', id: string, actor: string, action: string, details: unknown, occurredAt: string } }> } } | null };

export type ExplorerUpdateAssetMutationVariables = Exact<{
  input: UpdateAssetInput;
}>;


export type ExplorerUpdateAssetMutation = { __typename?: 'Mutation', updateAsset: { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'InvalidInput', message: string, code: UserErrorCode } | { __typename: 'MalformedId', message: string, code: UserErrorCode } | { __typename: 'NotFound', message: string, code: UserErrorCode } | { __typename: 'UpdateAssetSuccess', asset: { __typename?: 'Asset', id: string, title: string, tags: Array<string> } } | { __typename: 'WrongIdType', message: string, code: UserErrorCode } };

export type ExplorerRetryJobMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type ExplorerRetryJobMutation = { __typename?: 'Mutation', retryJob: { __typename: 'Backpressure', message: string, code: UserErrorCode } | { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'InvalidState', message: string, code: UserErrorCode } | { __typename: 'MalformedId', message: string, code: UserErrorCode } | { __typename: 'NotFound', message: string, code: UserErrorCode } | { __typename: 'RetryJobSuccess', job: { __typename?: 'Job', id: string, pipeline: string, quality: JobQuality, status: JobStatus, progress: number, currentStage: string | null, errorCode: string | null, errorMessage: string | null, createdAt: string, stages: { __typename?: 'JobStageConnection', edges: Array<{ __typename?: 'JobStageEdge', node: { __typename?: 'JobStage', name: string, status: StageStatus, progress: number, attempts: number, errorCode: string | null, errorMessage: string | null, skipReason: string | null } }> } } } | { __typename: 'WrongIdType', message: string, code: UserErrorCode } };

export type ExplorerUpgradeTranscriptMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type ExplorerUpgradeTranscriptMutation = { __typename?: 'Mutation', reprocessAsset: { __typename: 'Backpressure', message: string, code: UserErrorCode } | { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'InvalidInput', message: string, code: UserErrorCode } | { __typename: 'InvalidState', message: string, code: UserErrorCode } | { __typename: 'MalformedId', message: string, code: UserErrorCode } | { __typename: 'NotFound', message: string, code: UserErrorCode } | { __typename: 'ReprocessAssetSuccess', job: { __typename?: 'Job', id: string, pipeline: string, quality: JobQuality, status: JobStatus, progress: number, currentStage: string | null, errorCode: string | null, errorMessage: string | null, createdAt: string, stages: { __typename?: 'JobStageConnection', edges: Array<{ __typename?: 'JobStageEdge', node: { __typename?: 'JobStage', name: string, status: StageStatus, progress: number, attempts: number, errorCode: string | null, errorMessage: string | null, skipReason: string | null } }> } } } | { __typename: 'WrongIdType', message: string, code: UserErrorCode } };

export type ExplorerCancelJobMutationVariables = Exact<{
  id: Scalars['ID']['input'];
}>;


export type ExplorerCancelJobMutation = { __typename?: 'Mutation', cancelJob: { __typename: 'CancelJobSuccess', job: { __typename?: 'Job', id: string, pipeline: string, quality: JobQuality, status: JobStatus, progress: number, currentStage: string | null, errorCode: string | null, errorMessage: string | null, createdAt: string, stages: { __typename?: 'JobStageConnection', edges: Array<{ __typename?: 'JobStageEdge', node: { __typename?: 'JobStage', name: string, status: StageStatus, progress: number, attempts: number, errorCode: string | null, errorMessage: string | null, skipReason: string | null } }> } } } | { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'InvalidState', message: string, code: UserErrorCode } | { __typename: 'MalformedId', message: string, code: UserErrorCode } | { __typename: 'NotFound', message: string, code: UserErrorCode } | { __typename: 'WrongIdType', message: string, code: UserErrorCode } };

export type ExplorerRelationGraphQueryVariables = Exact<{
  assetId: Scalars['ID']['input'];
  limit: Scalars['Int']['input'];
}>;


export type ExplorerRelationGraphQuery = { __typename?: 'Query', relationGraph: { __typename?: 'RelationGraph', nodes: Array<{ __typename?: 'Asset', id: string, title: string, kind: AssetKind }>, edges: Array<{ __typename?: 'RelationGraphEdge', source: string, target: string, score: number, reasons: Array<{ __typename?: 'RelationReasonScore', reason: RelationReason, score: number, terms: Array<string> }> }> } };

export type ExplorerLibraryQueryVariables = Exact<{
  filter?: InputMaybe<AssetFilter>;
  first: Scalars['Int']['input'];
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type ExplorerLibraryQuery = { __typename?: 'Query', assets: { __typename?: 'AssetConnection', edges: Array<{ __typename?: 'AssetEdge', cursor: string, node: { __typename?: 'Asset', id: string, title: string, kind: AssetKind, status: AssetStatus, durationSeconds: number | null, tags: Array<string>, language: string | null, scenes: { __typename?: 'SceneConnection', edges: Array<{ __typename?: 'SceneEdge', node: { __typename?: 'Scene', thumbnailUrl: string | null } }> } } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null } } };

export type LibraryCardFragment = { __typename?: 'Asset', id: string, title: string, kind: AssetKind, status: AssetStatus, durationSeconds: number | null, tags: Array<string>, language: string | null, scenes: { __typename?: 'SceneConnection', edges: Array<{ __typename?: 'SceneEdge', node: { __typename?: 'Scene', thumbnailUrl: string | null } }> } };

export type ExplorerFacetsQueryVariables = Exact<{ [key: string]: never; }>;


export type ExplorerFacetsQuery = { __typename?: 'Query', facets: Array<{ __typename?: 'SearchFacet', field: SearchFacetField, values: Array<{ __typename?: 'SearchFacetValue', value: string, count: number }> }> };

export type ExplorerAssetEventsSubscriptionVariables = Exact<{
  assetId: Scalars['ID']['input'];
}>;


export type ExplorerAssetEventsSubscription = { __typename?: 'Subscription', assetEvents: { __typename?: 'AssetEvent', kind: AssetEventKind, asset: { __typename?: 'Asset', id: string, title: string, kind: AssetKind, status: AssetStatus, durationSeconds: number | null, tags: Array<string>, language: string | null, scenes: { __typename?: 'SceneConnection', edges: Array<{ __typename?: 'SceneEdge', node: { __typename?: 'Scene', thumbnailUrl: string | null } }> } } | null } };

export type ExplorerIngestMutationVariables = Exact<{
  input: IngestAssetInput;
}>;


export type ExplorerIngestMutation = { __typename?: 'Mutation', ingestAsset: { __typename: 'Backpressure', message: string, code: UserErrorCode } | { __typename: 'EmptyFile', message: string, code: UserErrorCode } | { __typename: 'FetchFailed', message: string, code: UserErrorCode } | { __typename: 'FileTooLarge', message: string, code: UserErrorCode } | { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'IdempotencyConflict', message: string, code: UserErrorCode } | { __typename: 'IngestAssetSuccess', created: boolean, asset: { __typename?: 'Asset', id: string, title: string }, job: { __typename?: 'Job', id: string, status: JobStatus, progress: number } | null } | { __typename: 'InvalidInput', message: string, code: UserErrorCode } | { __typename: 'PathNotAllowed', message: string, code: UserErrorCode } | { __typename: 'RateLimited', message: string, code: UserErrorCode } | { __typename: 'UnreadableFile', message: string, code: UserErrorCode } | { __typename: 'UnsupportedMedia', message: string, code: UserErrorCode } | { __typename: 'UrlNotAllowed', message: string, code: UserErrorCode } };

export type ExplorerJobProgressSubscriptionVariables = Exact<{
  jobId: Scalars['ID']['input'];
}>;


export type ExplorerJobProgressSubscription = { __typename?: 'Subscription', jobProgress: { __typename?: 'JobProgressEvent', kind: JobProgressEventKind, jobStatus: JobStatus, jobProgress: number, currentStage: string | null, stage: string | null, stageStatus: StageStatus | null, errorCode: string | null, errorMessage: string | null } };

export type ExplorerPersonOptionsQueryVariables = Exact<{ [key: string]: never; }>;


export type ExplorerPersonOptionsQuery = { __typename?: 'Query', people: { __typename?: 'PersonConnection', edges: Array<{ __typename?: 'PersonEdge', node: { __typename?: 'Person', id: string, name: string | null, faceCount: number } }> } };

export type ExplorerDuplicatesQueryVariables = Exact<{
  first: Scalars['Int']['input'];
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type ExplorerDuplicatesQuery = { __typename?: 'Query', duplicates: { __typename?: 'DuplicateClusterConnection', totalCount: number, edges: Array<{ __typename?: 'DuplicateClusterEdge', cursor: string, node: { __typename?: 'DuplicateCluster', id: string, size: number, pairCount: number, bestScore: number, worstScore: number, assets: Array<{ __typename?: 'Asset', id: string, title: string, kind: AssetKind, status: AssetStatus, mimeType: string, sizeBytes: number, durationSeconds: number | null, width: number | null, height: number | null, createdAt: string, scenes: { __typename?: 'SceneConnection', edges: Array<{ __typename?: 'SceneEdge', node: { __typename?: 'Scene', thumbnailUrl: string | null } }> } }> } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null } } };

export type ExplorerResolveDuplicatesMutationVariables = Exact<{
  input: ResolveDuplicatesInput;
}>;


export type ExplorerResolveDuplicatesMutation = { __typename?: 'Mutation', resolveDuplicates: { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'InvalidInput', message: string, code: UserErrorCode } | { __typename: 'MalformedId', message: string, code: UserErrorCode } | { __typename: 'NotFound', message: string, code: UserErrorCode } | { __typename: 'ResolveDuplicatesSuccess', pairCount: number, hidden: Array<{ __typename?: 'Asset', id: string }> } | { __typename: 'WrongIdType', message: string, code: UserErrorCode } };

export type ExplorerSystemStatusQueryVariables = Exact<{ [key: string]: never; }>;


export type ExplorerSystemStatusQuery = { __typename?: 'Query', systemStatus: { __typename?: 'SystemStatus', checkedAt: string, workersAlive: number, queues: Array<{ __typename?: 'QueueStatus', name: string, depth: number, oldestMessageAgeSeconds: number, deadLetters: number }>, workers: Array<{ __typename?: 'WorkerStatus', id: string, lastSeenSecondsAgo: number, modelsLoaded: Array<string> }>, modelsLoaded: Array<{ __typename?: 'ModelStatus', name: string, version: string, workers: number }>, backends: Array<{ __typename?: 'BackendHealth', name: string, healthy: boolean | null, detail: string }>, breakers: Array<{ __typename?: 'BreakerStatus', worker: string, backend: string, state: BreakerState }> } };

export type ExplorerPeopleQueryVariables = Exact<{
  first: Scalars['Int']['input'];
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type ExplorerPeopleQuery = { __typename?: 'Query', people: { __typename?: 'PersonConnection', edges: Array<{ __typename?: 'PersonEdge', cursor: string, node: { __typename?: 'Person', id: string, name: string | null, faceCount: number, coverUrl: string | null, appearances: Array<{ __typename?: 'PersonAppearance', id: string, startS: number, locked: boolean, cropUrl: string | null, asset: { __typename?: 'Asset', id: string, title: string } | null }> } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null } } };

export type ExplorerRenamePersonMutationVariables = Exact<{
  id: Scalars['ID']['input'];
  name?: InputMaybe<Scalars['String']['input']>;
}>;


export type ExplorerRenamePersonMutation = { __typename?: 'Mutation', renamePerson: { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'InvalidInput', message: string, code: UserErrorCode } | { __typename: 'MalformedId', message: string, code: UserErrorCode } | { __typename: 'NotFound', message: string, code: UserErrorCode } | { __typename: 'PersonSuccess', person: { __typename?: 'Person', id: string, name: string | null } } | { __typename: 'WrongIdType', message: string, code: UserErrorCode } };

export type ExplorerMergePeopleMutationVariables = Exact<{
  into: Scalars['ID']['input'];
  ids: Array<Scalars['ID']['input']> | Scalars['ID']['input'];
}>;


export type ExplorerMergePeopleMutation = { __typename?: 'Mutation', mergePeople: { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'InvalidInput', message: string, code: UserErrorCode } | { __typename: 'MalformedId', message: string, code: UserErrorCode } | { __typename: 'NotFound', message: string, code: UserErrorCode } | { __typename: 'PersonSuccess' } | { __typename: 'WrongIdType', message: string, code: UserErrorCode } };

export type ExplorerMoveFacesMutationVariables = Exact<{
  ids: Array<Scalars['ID']['input']> | Scalars['ID']['input'];
  to?: InputMaybe<Scalars['ID']['input']>;
}>;


export type ExplorerMoveFacesMutation = { __typename?: 'Mutation', moveFaces: { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'InvalidInput', message: string, code: UserErrorCode } | { __typename: 'MalformedId', message: string, code: UserErrorCode } | { __typename: 'NotFound', message: string, code: UserErrorCode } | { __typename: 'PersonSuccess' } | { __typename: 'WrongIdType', message: string, code: UserErrorCode } };

export type ExplorerHitsFragment = { __typename?: 'SearchConnection', totalCount: number, retrievers: Array<SearchRetriever>, edges: Array<{ __typename?: 'SearchEdge', cursor: string, node: { __typename?: 'SearchHit', kind: SearchHitKind, startSeconds: number | null, endSeconds: number | null, playFromSeconds: number, score: number, relevance: number, matchedFields: Array<SearchTextField>, highlights: Array<{ __typename?: 'SearchHighlight', field: SearchTextField, fragment: string }>, asset: { __typename?: 'Asset', id: string, title: string, kind: AssetKind }, scene: { __typename?: 'Scene', id: string, thumbnailUrl: string | null } | null } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null } };

export type ExplorerSearchQueryVariables = Exact<{
  query: SearchInput;
  first: Scalars['Int']['input'];
  after?: InputMaybe<Scalars['String']['input']>;
}>;


export type ExplorerSearchQuery = { __typename?: 'Query', search: { __typename?: 'SearchConnection', totalCount: number, retrievers: Array<SearchRetriever>, edges: Array<{ __typename?: 'SearchEdge', cursor: string, node: { __typename?: 'SearchHit', kind: SearchHitKind, startSeconds: number | null, endSeconds: number | null, playFromSeconds: number, score: number, relevance: number, matchedFields: Array<SearchTextField>, highlights: Array<{ __typename?: 'SearchHighlight', field: SearchTextField, fragment: string }>, asset: { __typename?: 'Asset', id: string, title: string, kind: AssetKind }, scene: { __typename?: 'Scene', id: string, thumbnailUrl: string | null } | null } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null } } };

export type ExplorerSearchByImageQueryVariables = Exact<{
  image: Scalars['Upload']['input'];
  scope: SearchScope;
}>;


export type ExplorerSearchByImageQuery = { __typename?: 'Query', searchByImage: { __typename?: 'SearchConnection', totalCount: number, retrievers: Array<SearchRetriever>, edges: Array<{ __typename?: 'SearchEdge', cursor: string, node: { __typename?: 'SearchHit', kind: SearchHitKind, startSeconds: number | null, endSeconds: number | null, playFromSeconds: number, score: number, relevance: number, matchedFields: Array<SearchTextField>, highlights: Array<{ __typename?: 'SearchHighlight', field: SearchTextField, fragment: string }>, asset: { __typename?: 'Asset', id: string, title: string, kind: AssetKind }, scene: { __typename?: 'Scene', id: string, thumbnailUrl: string | null } | null } }>, pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean, endCursor: string | null } } };

export type ExplorerProbeWriteMutationVariables = Exact<{ [key: string]: never; }>;


export type ExplorerProbeWriteMutation = { __typename?: 'Mutation', updateAsset: { __typename: 'Forbidden', message: string, code: UserErrorCode } | { __typename: 'InvalidInput', message: string, code: UserErrorCode } | { __typename: 'MalformedId', message: string, code: UserErrorCode } | { __typename: 'NotFound', message: string, code: UserErrorCode } | { __typename: 'UpdateAssetSuccess' } | { __typename: 'WrongIdType', message: string, code: UserErrorCode } };

export type ExplorerProbeAdminQueryVariables = Exact<{ [key: string]: never; }>;


export type ExplorerProbeAdminQuery = { __typename?: 'Query', auditEvents: { __typename?: 'AuditEventConnection', pageInfo: { __typename?: 'PageInfo', hasNextPage: boolean } } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ExplorerJobFragmentDoc = new TypedDocumentString(`
    fragment ExplorerJob on Job {
  id
  pipeline
  quality
  status
  progress
  currentStage
  errorCode
  errorMessage
  createdAt
  stages(first: 20) {
    edges {
      node {
        name
        status
        progress
        attempts
        errorCode
        errorMessage
        skipReason
      }
    }
  }
}
    `, {"fragmentName":"ExplorerJob"}) as unknown as TypedDocumentString<ExplorerJobFragment, unknown>;
export const LibraryCardFragmentDoc = new TypedDocumentString(`
    fragment LibraryCard on Asset {
  id
  title
  kind
  status
  durationSeconds
  tags
  language
  scenes(first: 1) {
    edges {
      node {
        thumbnailUrl
      }
    }
  }
}
    `, {"fragmentName":"LibraryCard"}) as unknown as TypedDocumentString<LibraryCardFragment, unknown>;
export const ExplorerHitsFragmentDoc = new TypedDocumentString(`
    fragment ExplorerHits on SearchConnection {
  totalCount
  retrievers
  edges {
    cursor
    node {
      kind
      startSeconds
      endSeconds
      playFromSeconds
      score
      relevance
      matchedFields
      highlights {
        field
        fragment
      }
      asset {
        id
        title
        kind
      }
      scene {
        id
        thumbnailUrl
      }
    }
  }
  pageInfo {
    hasNextPage
    endCursor
  }
}
    `, {"fragmentName":"ExplorerHits"}) as unknown as TypedDocumentString<ExplorerHitsFragment, unknown>;
export const ExplorerAssetDocument = new TypedDocumentString(`
    query ExplorerAsset($id: ID!) {
  asset(id: $id) {
    id
    title
    kind
    status
    mimeType
    contentUrl
    sizeBytes
    durationSeconds
    width
    height
    language
    tags
    sourceUri
    createdAt
    scenes(first: 100) {
      edges {
        node {
          id
          ordinal
          startSeconds
          endSeconds
          thumbnailUrl
          keyframeUrl
        }
      }
    }
    transcript(first: 100) {
      edges {
        node {
          id
          startSeconds
          endSeconds
          text
        }
      }
    }
    detections(first: 100) {
      edges {
        node {
          id
          kind
          label
          confidence
          timeSeconds
        }
      }
    }
    related(first: 12) {
      edges {
        score
        reasons {
          reason
          score
          terms
        }
        node {
          id
          title
          kind
          scenes(first: 1) {
            edges {
              node {
                thumbnailUrl
              }
            }
          }
        }
      }
    }
    jobs(first: 5) {
      edges {
        node {
          ...ExplorerJob
        }
      }
    }
  }
}
    fragment ExplorerJob on Job {
  id
  pipeline
  quality
  status
  progress
  currentStage
  errorCode
  errorMessage
  createdAt
  stages(first: 20) {
    edges {
      node {
        name
        status
        progress
        attempts
        errorCode
        errorMessage
        skipReason
      }
    }
  }
}`) as unknown as TypedDocumentString<ExplorerAssetQuery, ExplorerAssetQueryVariables>;
export const ExplorerAssetAuditDocument = new TypedDocumentString(`
    query ExplorerAssetAudit($id: ID!) {
  asset(id: $id) {
    id
    auditEvents(first: 20) {
      edges {
        node {
          id
          actor
          action
          details
          occurredAt
        }
      }
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerAssetAuditQuery, ExplorerAssetAuditQueryVariables>;
export const ExplorerUpdateAssetDocument = new TypedDocumentString(`
    mutation ExplorerUpdateAsset($input: UpdateAssetInput!) {
  updateAsset(input: $input) {
    __typename
    ... on UpdateAssetSuccess {
      asset {
        id
        title
        tags
      }
    }
    ... on UserError {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerUpdateAssetMutation, ExplorerUpdateAssetMutationVariables>;
export const ExplorerRetryJobDocument = new TypedDocumentString(`
    mutation ExplorerRetryJob($id: ID!) {
  retryJob(input: {id: $id}) {
    __typename
    ... on RetryJobSuccess {
      job {
        ...ExplorerJob
      }
    }
    ... on UserError {
      message
      code
    }
  }
}
    fragment ExplorerJob on Job {
  id
  pipeline
  quality
  status
  progress
  currentStage
  errorCode
  errorMessage
  createdAt
  stages(first: 20) {
    edges {
      node {
        name
        status
        progress
        attempts
        errorCode
        errorMessage
        skipReason
      }
    }
  }
}`) as unknown as TypedDocumentString<ExplorerRetryJobMutation, ExplorerRetryJobMutationVariables>;
export const ExplorerUpgradeTranscriptDocument = new TypedDocumentString(`
    mutation ExplorerUpgradeTranscript($id: ID!) {
  reprocessAsset(input: {id: $id, stages: [TRANSCRIBE], quality: ACCURATE}) {
    __typename
    ... on ReprocessAssetSuccess {
      job {
        ...ExplorerJob
      }
    }
    ... on UserError {
      message
      code
    }
  }
}
    fragment ExplorerJob on Job {
  id
  pipeline
  quality
  status
  progress
  currentStage
  errorCode
  errorMessage
  createdAt
  stages(first: 20) {
    edges {
      node {
        name
        status
        progress
        attempts
        errorCode
        errorMessage
        skipReason
      }
    }
  }
}`) as unknown as TypedDocumentString<ExplorerUpgradeTranscriptMutation, ExplorerUpgradeTranscriptMutationVariables>;
export const ExplorerCancelJobDocument = new TypedDocumentString(`
    mutation ExplorerCancelJob($id: ID!) {
  cancelJob(input: {id: $id}) {
    __typename
    ... on CancelJobSuccess {
      job {
        ...ExplorerJob
      }
    }
    ... on UserError {
      message
      code
    }
  }
}
    fragment ExplorerJob on Job {
  id
  pipeline
  quality
  status
  progress
  currentStage
  errorCode
  errorMessage
  createdAt
  stages(first: 20) {
    edges {
      node {
        name
        status
        progress
        attempts
        errorCode
        errorMessage
        skipReason
      }
    }
  }
}`) as unknown as TypedDocumentString<ExplorerCancelJobMutation, ExplorerCancelJobMutationVariables>;
export const ExplorerRelationGraphDocument = new TypedDocumentString(`
    query ExplorerRelationGraph($assetId: ID!, $limit: Int!) {
  relationGraph(assetId: $assetId, depth: 1, limit: $limit) {
    nodes {
      id
      title
      kind
    }
    edges {
      source
      target
      score
      reasons {
        reason
        score
        terms
      }
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerRelationGraphQuery, ExplorerRelationGraphQueryVariables>;
export const ExplorerLibraryDocument = new TypedDocumentString(`
    query ExplorerLibrary($filter: AssetFilter, $first: Int!, $after: String) {
  assets(filter: $filter, first: $first, after: $after) {
    edges {
      cursor
      node {
        ...LibraryCard
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    fragment LibraryCard on Asset {
  id
  title
  kind
  status
  durationSeconds
  tags
  language
  scenes(first: 1) {
    edges {
      node {
        thumbnailUrl
      }
    }
  }
}`) as unknown as TypedDocumentString<ExplorerLibraryQuery, ExplorerLibraryQueryVariables>;
export const ExplorerFacetsDocument = new TypedDocumentString(`
    query ExplorerFacets {
  facets(scope: ASSET, size: 12) {
    field
    values {
      value
      count
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerFacetsQuery, ExplorerFacetsQueryVariables>;
export const ExplorerAssetEventsDocument = new TypedDocumentString(`
    subscription ExplorerAssetEvents($assetId: ID!) {
  assetEvents(assetId: $assetId) {
    kind
    asset {
      ...LibraryCard
    }
  }
}
    fragment LibraryCard on Asset {
  id
  title
  kind
  status
  durationSeconds
  tags
  language
  scenes(first: 1) {
    edges {
      node {
        thumbnailUrl
      }
    }
  }
}`) as unknown as TypedDocumentString<ExplorerAssetEventsSubscription, ExplorerAssetEventsSubscriptionVariables>;
export const ExplorerIngestDocument = new TypedDocumentString(`
    mutation ExplorerIngest($input: IngestAssetInput!) {
  ingestAsset(input: $input) {
    __typename
    ... on IngestAssetSuccess {
      created
      asset {
        id
        title
      }
      job {
        id
        status
        progress
      }
    }
    ... on UserError {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerIngestMutation, ExplorerIngestMutationVariables>;
export const ExplorerJobProgressDocument = new TypedDocumentString(`
    subscription ExplorerJobProgress($jobId: ID!) {
  jobProgress(jobId: $jobId) {
    kind
    jobStatus
    jobProgress
    currentStage
    stage
    stageStatus
    errorCode
    errorMessage
  }
}
    `) as unknown as TypedDocumentString<ExplorerJobProgressSubscription, ExplorerJobProgressSubscriptionVariables>;
export const ExplorerPersonOptionsDocument = new TypedDocumentString(`
    query ExplorerPersonOptions {
  people(first: 100) {
    edges {
      node {
        id
        name
        faceCount
      }
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerPersonOptionsQuery, ExplorerPersonOptionsQueryVariables>;
export const ExplorerDuplicatesDocument = new TypedDocumentString(`
    query ExplorerDuplicates($first: Int!, $after: String) {
  duplicates(first: $first, after: $after) {
    totalCount
    edges {
      cursor
      node {
        id
        size
        pairCount
        bestScore
        worstScore
        assets(first: 8) {
          id
          title
          kind
          status
          mimeType
          sizeBytes
          durationSeconds
          width
          height
          createdAt
          scenes(first: 1) {
            edges {
              node {
                thumbnailUrl
              }
            }
          }
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerDuplicatesQuery, ExplorerDuplicatesQueryVariables>;
export const ExplorerResolveDuplicatesDocument = new TypedDocumentString(`
    mutation ExplorerResolveDuplicates($input: ResolveDuplicatesInput!) {
  resolveDuplicates(input: $input) {
    __typename
    ... on ResolveDuplicatesSuccess {
      pairCount
      hidden {
        id
      }
    }
    ... on UserError {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerResolveDuplicatesMutation, ExplorerResolveDuplicatesMutationVariables>;
export const ExplorerSystemStatusDocument = new TypedDocumentString(`
    query ExplorerSystemStatus {
  systemStatus {
    checkedAt
    workersAlive
    queues {
      name
      depth
      oldestMessageAgeSeconds
      deadLetters
    }
    workers {
      id
      lastSeenSecondsAgo
      modelsLoaded
    }
    modelsLoaded {
      name
      version
      workers
    }
    backends {
      name
      healthy
      detail
    }
    breakers {
      worker
      backend
      state
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerSystemStatusQuery, ExplorerSystemStatusQueryVariables>;
export const ExplorerPeopleDocument = new TypedDocumentString(`
    query ExplorerPeople($first: Int!, $after: String) {
  people(first: $first, after: $after) {
    edges {
      cursor
      node {
        id
        name
        faceCount
        coverUrl
        appearances(first: 24) {
          id
          startS
          locked
          cropUrl
          asset {
            id
            title
          }
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerPeopleQuery, ExplorerPeopleQueryVariables>;
export const ExplorerRenamePersonDocument = new TypedDocumentString(`
    mutation ExplorerRenamePerson($id: ID!, $name: String) {
  renamePerson(id: $id, name: $name) {
    __typename
    ... on PersonSuccess {
      person {
        id
        name
      }
    }
    ... on UserError {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerRenamePersonMutation, ExplorerRenamePersonMutationVariables>;
export const ExplorerMergePeopleDocument = new TypedDocumentString(`
    mutation ExplorerMergePeople($into: ID!, $ids: [ID!]!) {
  mergePeople(into: $into, ids: $ids) {
    __typename
    ... on UserError {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerMergePeopleMutation, ExplorerMergePeopleMutationVariables>;
export const ExplorerMoveFacesDocument = new TypedDocumentString(`
    mutation ExplorerMoveFaces($ids: [ID!]!, $to: ID) {
  moveFaces(ids: $ids, to: $to) {
    __typename
    ... on UserError {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerMoveFacesMutation, ExplorerMoveFacesMutationVariables>;
export const ExplorerSearchDocument = new TypedDocumentString(`
    query ExplorerSearch($query: SearchInput!, $first: Int!, $after: String) {
  search(query: $query, first: $first, after: $after) {
    ...ExplorerHits
  }
}
    fragment ExplorerHits on SearchConnection {
  totalCount
  retrievers
  edges {
    cursor
    node {
      kind
      startSeconds
      endSeconds
      playFromSeconds
      score
      relevance
      matchedFields
      highlights {
        field
        fragment
      }
      asset {
        id
        title
        kind
      }
      scene {
        id
        thumbnailUrl
      }
    }
  }
  pageInfo {
    hasNextPage
    endCursor
  }
}`) as unknown as TypedDocumentString<ExplorerSearchQuery, ExplorerSearchQueryVariables>;
export const ExplorerSearchByImageDocument = new TypedDocumentString(`
    query ExplorerSearchByImage($image: Upload!, $scope: SearchScope!) {
  searchByImage(image: $image, scope: $scope, first: 20) {
    ...ExplorerHits
  }
}
    fragment ExplorerHits on SearchConnection {
  totalCount
  retrievers
  edges {
    cursor
    node {
      kind
      startSeconds
      endSeconds
      playFromSeconds
      score
      relevance
      matchedFields
      highlights {
        field
        fragment
      }
      asset {
        id
        title
        kind
      }
      scene {
        id
        thumbnailUrl
      }
    }
  }
  pageInfo {
    hasNextPage
    endCursor
  }
}`) as unknown as TypedDocumentString<ExplorerSearchByImageQuery, ExplorerSearchByImageQueryVariables>;
export const ExplorerProbeWriteDocument = new TypedDocumentString(`
    mutation ExplorerProbeWrite {
  updateAsset(input: {id: ""}) {
    __typename
    ... on UserError {
      message
      code
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerProbeWriteMutation, ExplorerProbeWriteMutationVariables>;
export const ExplorerProbeAdminDocument = new TypedDocumentString(`
    query ExplorerProbeAdmin {
  auditEvents(first: 0) {
    pageInfo {
      hasNextPage
    }
  }
}
    `) as unknown as TypedDocumentString<ExplorerProbeAdminQuery, ExplorerProbeAdminQueryVariables>;