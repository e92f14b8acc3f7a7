from typing import Any, Optional, Union

from .asset_list import AssetList
from .asset_page import AssetPage
from .base_client import BaseClient
from .base_model import UNSET, UnsetType, Upload
from .cancel_job import CancelJob
from .create_webhook import CreateWebhook
from .delete_asset import DeleteAsset
from .duplicates import Duplicates
from .enums import JobQuality, JobStatus, PipelineStage, SearchFacetField, SearchScope
from .facets import Facets
from .ingest_asset import IngestAsset
from .ingest_assets import IngestAssets
from .input_types import (
    AssetFilter,
    AssetOrder,
    DuplicateFilter,
    IngestAssetInput,
    IngestAssetsInput,
    ResolveDuplicatesInput,
    SearchFilter,
    SearchInput,
    UpdateAssetInput,
)
from .job_cost import JobCost
from .job_monitor import JobMonitor
from .model_usage import ModelUsage
from .redeliver_webhook import RedeliverWebhook
from .related_assets import RelatedAssets
from .relation_graph import RelationGraph
from .reprocess_asset import ReprocessAsset
from .resolve_duplicates import ResolveDuplicates
from .retry_job import RetryJob
from .scene_browser import SceneBrowser
from .search import Search
from .search_by_image import SearchByImage
from .search_facets import SearchFacets
from .system_status import SystemStatus
from .transcript_search import TranscriptSearch
from .update_asset import UpdateAsset
from .webhook_deliveries import WebhookDeliveries
from .webhooks import Webhooks


def gql(q: str) -> str:
    return q


class MediaKGSyncClient(BaseClient):
    def asset_list(
        self,
        first: int,
        filter_: Union[Optional[AssetFilter], UnsetType] = UNSET,
        order_by: Union[Optional[AssetOrder], UnsetType] = UNSET,
        after: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> AssetList:
        query = gql("""
            query AssetList($filter: AssetFilter, $orderBy: AssetOrder, $first: Int!, $after: String) {
              assets(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
                edges {
                  cursor
                  node {
                    id
                    title
                    kind
                    status
                    durationSeconds
                    tags
                  }
                }
                pageInfo {
                  hasNextPage
                  endCursor
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "filter": filter_,
            "orderBy": order_by,
            "first": first,
            "after": after,
        }
        response = self.execute(
            query=query, operation_name="AssetList", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return AssetList.model_validate(data)

    def asset_page(self, id: str, **kwargs: Any) -> AssetPage:
        query = gql("""
            query AssetPage($id: ID!) {
              asset(id: $id) {
                id
                title
                kind
                status
                mimeType
                sizeBytes
                durationSeconds
                width
                height
                tags
                metadata
                scenes(first: 10) {
                  edges {
                    node {
                      id
                      ordinal
                      startSeconds
                      endSeconds
                      keyframeUrl
                    }
                  }
                  pageInfo {
                    hasNextPage
                    endCursor
                  }
                }
                jobs(first: 5) {
                  edges {
                    node {
                      id
                      status
                      progress
                    }
                  }
                }
                similarAssets(first: 5, filter: {minScore: 0.5}) {
                  edges {
                    score
                    kind
                    node {
                      id
                      title
                    }
                  }
                }
                auditEvents(first: 5) {
                  edges {
                    node {
                      action
                      actor
                    }
                  }
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id}
        response = self.execute(
            query=query, operation_name="AssetPage", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return AssetPage.model_validate(data)

    def cancel_job(self, id: str, **kwargs: Any) -> CancelJob:
        query = gql("""
            mutation CancelJob($id: ID!) {
              cancelJob(input: {id: $id}) {
                __typename
                ... on CancelJobSuccess {
                  job {
                    id
                    status
                  }
                }
                ... on UserError {
                  message
                  code
                  field
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id}
        response = self.execute(
            query=query, operation_name="CancelJob", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return CancelJob.model_validate(data)

    def create_webhook(
        self,
        url: str,
        events: list[str],
        secret: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> CreateWebhook:
        query = gql("""
            mutation CreateWebhook($url: String!, $events: [String!]!, $secret: String) {
              createWebhook(input: {url: $url, events: $events, secret: $secret}) {
                __typename
                ... on CreateWebhookSuccess {
                  secret
                  webhook {
                    id
                    url
                    events
                    active
                  }
                }
                ... on UserError {
                  message
                  code
                  field
                }
              }
            }
            """)
        variables: dict[str, object] = {"url": url, "events": events, "secret": secret}
        response = self.execute(
            query=query, operation_name="CreateWebhook", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return CreateWebhook.model_validate(data)

    def delete_asset(self, id: str, **kwargs: Any) -> DeleteAsset:
        query = gql("""
            mutation DeleteAsset($id: ID!) {
              deleteAsset(input: {id: $id}) {
                __typename
                ... on DeleteAssetSuccess {
                  deletedAssetId
                }
                ... on UserError {
                  message
                  code
                  field
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id}
        response = self.execute(
            query=query, operation_name="DeleteAsset", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return DeleteAsset.model_validate(data)

    def duplicates(
        self,
        filter_: Union[Optional[DuplicateFilter], UnsetType] = UNSET,
        first: Union[Optional[int], UnsetType] = UNSET,
        after: Union[Optional[str], UnsetType] = UNSET,
        per_cluster: Union[Optional[int], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Duplicates:
        query = gql("""
            query Duplicates($filter: DuplicateFilter, $first: Int = 20, $after: String, $perCluster: Int = 10) {
              duplicates(filter: $filter, first: $first, after: $after) {
                totalCount
                edges {
                  cursor
                  node {
                    id
                    size
                    pairCount
                    bestScore
                    worstScore
                    assets(first: $perCluster) {
                      id
                      title
                      kind
                      createdAt
                    }
                    pairs(first: $perCluster) {
                      score
                      source {
                        id
                      }
                      target {
                        id
                      }
                      similarity {
                        id
                        modelName
                        modelVersion
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
            """)
        variables: dict[str, object] = {
            "filter": filter_,
            "first": first,
            "after": after,
            "perCluster": per_cluster,
        }
        response = self.execute(
            query=query, operation_name="Duplicates", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Duplicates.model_validate(data)

    def facets(
        self,
        filter_: Union[Optional[SearchFilter], UnsetType] = UNSET,
        scope: Union[Optional[SearchScope], UnsetType] = UNSET,
        fields: Union[Optional[list[SearchFacetField]], UnsetType] = UNSET,
        size: Union[Optional[int], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Facets:
        query = gql("""
            query Facets($filter: SearchFilter, $scope: SearchScope = ASSET, $fields: [SearchFacetField!], $size: Int = 10) {
              facets(filter: $filter, scope: $scope, fields: $fields, size: $size) {
                field
                values {
                  value
                  count
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "filter": filter_,
            "scope": scope,
            "fields": fields,
            "size": size,
        }
        response = self.execute(
            query=query, operation_name="Facets", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Facets.model_validate(data)

    def ingest_asset(self, input: IngestAssetInput, **kwargs: Any) -> IngestAsset:
        query = gql("""
            mutation IngestAsset($input: IngestAssetInput!) {
              ingestAsset(input: $input) {
                __typename
                ... on IngestAssetSuccess {
                  created
                  asset {
                    id
                    title
                    kind
                    tags
                  }
                  job {
                    id
                    status
                  }
                }
                ... on UserError {
                  message
                  code
                  field
                }
                ... on FileTooLarge {
                  maxBytes
                }
                ... on Backpressure {
                  retryAfterSeconds
                }
                ... on RateLimited {
                  retryAfterSeconds
                }
              }
            }
            """)
        variables: dict[str, object] = {"input": input}
        response = self.execute(
            query=query, operation_name="IngestAsset", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return IngestAsset.model_validate(data)

    def ingest_assets(self, input: IngestAssetsInput, **kwargs: Any) -> IngestAssets:
        query = gql("""
            mutation IngestAssets($input: IngestAssetsInput!) {
              ingestAssets(input: $input) {
                __typename
                ... on IngestAssetsSuccess {
                  results {
                    __typename
                    ... on IngestAssetSuccess {
                      created
                      asset {
                        title
                      }
                    }
                    ... on UserError {
                      code
                      field
                    }
                  }
                }
                ... on UserError {
                  message
                  code
                  field
                }
                ... on BatchTooLarge {
                  maxItems
                }
              }
            }
            """)
        variables: dict[str, object] = {"input": input}
        response = self.execute(
            query=query, operation_name="IngestAssets", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return IngestAssets.model_validate(data)

    def job_cost(self, id: str, **kwargs: Any) -> JobCost:
        query = gql("""
            query JobCost($id: ID!) {
              job(id: $id) {
                status
                cost {
                  cpuSeconds
                  gpuSeconds
                  storedBytes
                  cpuCost
                  gpuCost
                  storageCost
                  total
                  currency
                }
                stages(first: 20) {
                  edges {
                    node {
                      name
                      status
                      attempts
                      startedAt
                      finishedAt
                      durationSeconds
                    }
                  }
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id}
        response = self.execute(
            query=query, operation_name="JobCost", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return JobCost.model_validate(data)

    def job_monitor(
        self,
        first: int,
        status: Union[Optional[list[JobStatus]], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> JobMonitor:
        query = gql("""
            query JobMonitor($status: [JobStatus!], $first: Int!) {
              jobs(status: $status, first: $first) {
                edges {
                  node {
                    id
                    status
                    quality
                    progress
                    currentStage
                    errorCode
                    asset {
                      id
                      title
                    }
                    stages {
                      edges {
                        node {
                          name
                          status
                          progress
                          attempts
                          errorCode
                          skipReason
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
            """)
        variables: dict[str, object] = {"status": status, "first": first}
        response = self.execute(
            query=query, operation_name="JobMonitor", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return JobMonitor.model_validate(data)

    def model_usage(self, id: str, **kwargs: Any) -> ModelUsage:
        query = gql("""
            query ModelUsage($id: ID!) {
              job(id: $id) {
                status
                cost {
                  cpuSeconds
                  gpuSeconds
                }
                models {
                  ...ModelUsageParts
                }
                stages(first: 20) {
                  edges {
                    node {
                      name
                      modelUsage {
                        ...ModelUsageParts
                      }
                    }
                  }
                }
                asset {
                  modelUsage {
                    ...ModelUsageParts
                  }
                }
              }
            }

            fragment ModelUsageParts on ModelUsage {
              name
              version
              task
              stages
              calls
              inputs
              inputUnit
              wallSeconds
              cpuSeconds
              gpuSeconds
              meanConfidence
            }
            """)
        variables: dict[str, object] = {"id": id}
        response = self.execute(
            query=query, operation_name="ModelUsage", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return ModelUsage.model_validate(data)

    def redeliver_webhook(self, id: str, **kwargs: Any) -> RedeliverWebhook:
        query = gql("""
            mutation RedeliverWebhook($id: ID!) {
              redeliverWebhook(id: $id) {
                __typename
                ... on RedeliverWebhookSuccess {
                  delivery {
                    id
                    status
                    attemptCount
                  }
                }
                ... on UserError {
                  message
                  code
                  field
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id}
        response = self.execute(
            query=query,
            operation_name="RedeliverWebhook",
            variables=variables,
            **kwargs,
        )
        data = self.get_data(response)
        return RedeliverWebhook.model_validate(data)

    def related_assets(
        self,
        id: str,
        first: Union[Optional[int], UnsetType] = UNSET,
        after: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> RelatedAssets:
        query = gql("""
            query RelatedAssets($id: ID!, $first: Int = 20, $after: String) {
              asset(id: $id) {
                id
                title
                related(first: $first, after: $after) {
                  edges {
                    cursor
                    score
                    node {
                      id
                      title
                      kind
                    }
                    reasons {
                      ...RelationReasonFields
                    }
                  }
                  pageInfo {
                    hasNextPage
                    endCursor
                  }
                }
              }
            }

            fragment RelationReasonFields on RelationReasonScore {
              reason
              score
              weight
              terms
              personIds
              scenePairs {
                kind
                score
                scene {
                  id
                  startSeconds
                }
                otherScene {
                  id
                  startSeconds
                }
              }
              similarities {
                id
                kind
                score
              }
            }
            """)
        variables: dict[str, object] = {"id": id, "first": first, "after": after}
        response = self.execute(
            query=query, operation_name="RelatedAssets", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return RelatedAssets.model_validate(data)

    def relation_graph(
        self,
        asset_id: str,
        depth: Union[Optional[int], UnsetType] = UNSET,
        limit: Union[Optional[int], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> RelationGraph:
        query = gql("""
            query RelationGraph($assetId: ID!, $depth: Int = 1, $limit: Int = 20) {
              relationGraph(assetId: $assetId, depth: $depth, limit: $limit) {
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
                    personIds
                  }
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "assetId": asset_id,
            "depth": depth,
            "limit": limit,
        }
        response = self.execute(
            query=query, operation_name="RelationGraph", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return RelationGraph.model_validate(data)

    def reprocess_asset(
        self,
        id: str,
        stages: Union[Optional[list[PipelineStage]], UnsetType] = UNSET,
        quality: Union[Optional[JobQuality], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> ReprocessAsset:
        query = gql("""
            mutation ReprocessAsset($id: ID!, $stages: [PipelineStage!], $quality: JobQuality = ROUTED) {
              reprocessAsset(input: {id: $id, stages: $stages, quality: $quality}) {
                __typename
                ... on ReprocessAssetSuccess {
                  job {
                    id
                    status
                    quality
                    requestedStages
                  }
                }
                ... on UserError {
                  message
                  code
                  field
                }
                ... on Backpressure {
                  retryAfterSeconds
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id, "stages": stages, "quality": quality}
        response = self.execute(
            query=query, operation_name="ReprocessAsset", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return ReprocessAsset.model_validate(data)

    def resolve_duplicates(
        self, input: ResolveDuplicatesInput, **kwargs: Any
    ) -> ResolveDuplicates:
        query = gql("""
            mutation ResolveDuplicates($input: ResolveDuplicatesInput!) {
              resolveDuplicates(input: $input) {
                __typename
                ... on ResolveDuplicatesSuccess {
                  kept {
                    id
                    title
                  }
                  hidden {
                    id
                    title
                  }
                  pairCount
                }
                ... on UserError {
                  message
                  code
                  field
                }
              }
            }
            """)
        variables: dict[str, object] = {"input": input}
        response = self.execute(
            query=query,
            operation_name="ResolveDuplicates",
            variables=variables,
            **kwargs,
        )
        data = self.get_data(response)
        return ResolveDuplicates.model_validate(data)

    def retry_job(self, id: str, **kwargs: Any) -> RetryJob:
        query = gql("""
            mutation RetryJob($id: ID!) {
              retryJob(input: {id: $id}) {
                __typename
                ... on RetryJobSuccess {
                  job {
                    id
                    status
                    attempts
                  }
                }
                ... on UserError {
                  message
                  code
                  field
                }
                ... on Backpressure {
                  retryAfterSeconds
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id}
        response = self.execute(
            query=query, operation_name="RetryJob", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return RetryJob.model_validate(data)

    def scene_browser(
        self,
        id: str,
        min_confidence: Union[Optional[float], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> SceneBrowser:
        query = gql("""
            query SceneBrowser($id: ID!, $minConfidence: Float) {
              scene(id: $id) {
                id
                ordinal
                startSeconds
                endSeconds
                keyframeUrl
                thumbnailUrl
                asset {
                  id
                  title
                }
                transcript(first: 20) {
                  edges {
                    node {
                      text
                      startSeconds
                      endSeconds
                    }
                  }
                }
                detections(filter: {minConfidence: $minConfidence}, first: 20) {
                  edges {
                    node {
                      kind
                      label
                      confidence
                      timeSeconds
                      box {
                        x
                        y
                        width
                        height
                      }
                    }
                  }
                }
                similarScenes(first: 5) {
                  edges {
                    score
                    kind
                    node {
                      id
                      startSeconds
                      asset {
                        title
                      }
                    }
                  }
                }
              }
            }
            """)
        variables: dict[str, object] = {"id": id, "minConfidence": min_confidence}
        response = self.execute(
            query=query, operation_name="SceneBrowser", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return SceneBrowser.model_validate(data)

    def search(
        self,
        input: SearchInput,
        first: Union[Optional[int], UnsetType] = UNSET,
        after: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> Search:
        query = gql("""
            query Search($input: SearchInput!, $first: Int = 10, $after: String) {
              search(query: $input, first: $first, after: $after) {
                totalCount
                retrievers
                edges {
                  cursor
                  node {
                    kind
                    score
                    relevance
                    startSeconds
                    endSeconds
                    playFromSeconds
                    matchedFields
                    highlights {
                      field
                      fragment
                    }
                    timeCodes {
                      field
                      startSeconds
                      endSeconds
                      text
                    }
                    ranks {
                      retriever
                      rank
                    }
                    asset {
                      id
                      title
                      kind
                    }
                    scene {
                      id
                      startSeconds
                      endSeconds
                      keyframeUrl
                    }
                  }
                }
                pageInfo {
                  hasNextPage
                  endCursor
                }
              }
            }
            """)
        variables: dict[str, object] = {"input": input, "first": first, "after": after}
        response = self.execute(
            query=query, operation_name="Search", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Search.model_validate(data)

    def search_by_image(
        self,
        image: Union[Optional[Upload], UnsetType] = UNSET,
        asset_id: Union[Optional[str], UnsetType] = UNSET,
        filter_: Union[Optional[SearchFilter], UnsetType] = UNSET,
        scope: Union[Optional[SearchScope], UnsetType] = UNSET,
        first: Union[Optional[int], UnsetType] = UNSET,
        after: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> SearchByImage:
        query = gql("""
            query SearchByImage($image: Upload, $assetId: ID, $filter: SearchFilter, $scope: SearchScope = MOMENT, $first: Int = 10, $after: String) {
              searchByImage(
                image: $image
                assetId: $assetId
                filter: $filter
                scope: $scope
                first: $first
                after: $after
              ) {
                totalCount
                retrievers
                edges {
                  cursor
                  node {
                    kind
                    score
                    startSeconds
                    endSeconds
                    ranks {
                      retriever
                      rank
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
            }
            """)
        variables: dict[str, object] = {
            "image": image,
            "assetId": asset_id,
            "filter": filter_,
            "scope": scope,
            "first": first,
            "after": after,
        }
        response = self.execute(
            query=query, operation_name="SearchByImage", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return SearchByImage.model_validate(data)

    def search_facets(self, input: SearchInput, **kwargs: Any) -> SearchFacets:
        query = gql("""
            query SearchFacets($input: SearchInput!) {
              search(query: $input, first: 0) {
                facets(size: 10) {
                  field
                  values {
                    value
                    count
                  }
                }
              }
            }
            """)
        variables: dict[str, object] = {"input": input}
        response = self.execute(
            query=query, operation_name="SearchFacets", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return SearchFacets.model_validate(data)

    def system_status(self, **kwargs: Any) -> SystemStatus:
        query = gql("""
            query SystemStatus {
              systemStatus {
                checkedAt
                queues {
                  name
                  depth
                  oldestMessageAgeSeconds
                  deadLetters
                }
                workersAlive
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
                routing {
                  task
                  queue
                  model
                  escalatesTo
                  escalationRule
                  escalation
                  upgradesTo
                }
              }
            }
            """)
        variables: dict[str, object] = {}
        response = self.execute(
            query=query, operation_name="SystemStatus", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return SystemStatus.model_validate(data)

    def transcript_search(
        self,
        asset_id: str,
        phrase: str,
        from_: Union[Optional[float], UnsetType] = UNSET,
        to: Union[Optional[float], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> TranscriptSearch:
        query = gql("""
            query TranscriptSearch($assetId: ID!, $phrase: String!, $from: Float, $to: Float) {
              asset(id: $assetId) {
                id
                transcript(contains: $phrase, from: $from, to: $to, first: 20) {
                  edges {
                    node {
                      id
                      text
                      startSeconds
                      endSeconds
                      words {
                        word
                        startSeconds
                        endSeconds
                      }
                      scene {
                        id
                      }
                    }
                  }
                  pageInfo {
                    hasNextPage
                  }
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "assetId": asset_id,
            "phrase": phrase,
            "from": from_,
            "to": to,
        }
        response = self.execute(
            query=query,
            operation_name="TranscriptSearch",
            variables=variables,
            **kwargs,
        )
        data = self.get_data(response)
        return TranscriptSearch.model_validate(data)

    def update_asset(self, input: UpdateAssetInput, **kwargs: Any) -> UpdateAsset:
        query = gql("""
            mutation UpdateAsset($input: UpdateAssetInput!) {
              updateAsset(input: $input) {
                __typename
                ... on UpdateAssetSuccess {
                  asset {
                    id
                    title
                    tags
                    metadata
                  }
                }
                ... on UserError {
                  message
                  code
                  field
                }
              }
            }
            """)
        variables: dict[str, object] = {"input": input}
        response = self.execute(
            query=query, operation_name="UpdateAsset", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return UpdateAsset.model_validate(data)

    def webhook_deliveries(
        self,
        first: int,
        webhook_id: Union[Optional[str], UnsetType] = UNSET,
        after: Union[Optional[str], UnsetType] = UNSET,
        **kwargs: Any,
    ) -> WebhookDeliveries:
        query = gql("""
            query WebhookDeliveries($webhookId: ID, $first: Int!, $after: String) {
              webhookDeliveries(webhookId: $webhookId, first: $first, after: $after) {
                edges {
                  node {
                    id
                    eventId
                    webhookId
                    eventType
                    status
                    attemptCount
                    lastStatusCode
                    nextAttemptAt
                    deliveredAt
                    attempts {
                      number
                      statusCode
                      error
                      durationMs
                      startedAt
                    }
                  }
                }
                pageInfo {
                  hasNextPage
                  endCursor
                }
              }
            }
            """)
        variables: dict[str, object] = {
            "webhookId": webhook_id,
            "first": first,
            "after": after,
        }
        response = self.execute(
            query=query,
            operation_name="WebhookDeliveries",
            variables=variables,
            **kwargs,
        )
        data = self.get_data(response)
        return WebhookDeliveries.model_validate(data)

    def webhooks(
        self, first: int, after: Union[Optional[str], UnsetType] = UNSET, **kwargs: Any
    ) -> Webhooks:
        query = gql("""
            query Webhooks($first: Int!, $after: String) {
              webhooks(first: $first, after: $after) {
                edges {
                  node {
                    id
                    url
                    events
                    active
                    createdAt
                  }
                }
                pageInfo {
                  hasNextPage
                  endCursor
                }
              }
            }
            """)
        variables: dict[str, object] = {"first": first, "after": after}
        response = self.execute(
            query=query, operation_name="Webhooks", variables=variables, **kwargs
        )
        data = self.get_data(response)
        return Webhooks.model_validate(data)
