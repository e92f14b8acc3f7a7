import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { Empty, ErrorBox, Loading, Thumb } from "../components/ui";
import {
  ExplorerMergePeopleDocument,
  ExplorerMoveFacesDocument,
  ExplorerPeopleDocument,
  ExplorerRenamePersonDocument,
  type ExplorerPeopleQuery,
} from "../gql/graphql";
import { ApiError, request, toApiError, userError } from "../lib/api";
import { formatTime } from "../lib/format";
import { useQuery } from "../lib/hooks";
import { useSession } from "../lib/session";

type Person = ExplorerPeopleQuery["people"]["edges"][number]["node"];

function label(person: Person): string {
  return person.name ?? "Unnamed person";
}

function PersonCard({
  person,
  people,
  selected,
  onSelect,
  onChanged,
}: {
  person: Person;
  people: Person[];
  selected: boolean;
  onSelect: (on: boolean) => void;
  onChanged: () => void;
}) {
  const { canWrite } = useSession();
  const [name, setName] = useState(person.name ?? "");
  const [faces, setFaces] = useState<Set<string>>(new Set());
  const [target, setTarget] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const rename = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const refused = userError((await request(ExplorerRenamePersonDocument, { id: person.id, name: name.trim() || null })).renamePerson);
      setError(refused);
      if (!refused) onChanged();
    } catch (err) {
      setError(toApiError(err));
    }
  };
  const move = async () => {
    try {
      const refused = userError((await request(ExplorerMoveFacesDocument, { ids: [...faces], to: target || null })).moveFaces);
      setError(refused);
      if (!refused) {
        setFaces(new Set());
        onChanged();
      }
    } catch (err) {
      setError(toApiError(err));
    }
  };
  return (
    <li className="person" data-testid="person">
      <div className="person-head">
        <Thumb url={person.coverUrl} alt="" />
        <div>
          <h2>{label(person)}</h2>
          <p className="hint">{person.faceCount} faces</p>
          {canWrite && (
            <>
              <form onSubmit={rename} className="inline-form">
                <label>
                  Name <input value={name} onChange={(e) => setName(e.target.value)} data-testid="person-name" />
                </label>
                <button type="submit">Rename</button>
              </form>
              <label className="check">
                <input type="checkbox" checked={selected} onChange={(e) => onSelect(e.target.checked)} /> select to merge
              </label>
            </>
          )}
        </div>
      </div>
      <ul className="faces">
        {person.appearances.map((face) => (
          <li key={face.id}>
            {canWrite && (
              <input
                type="checkbox"
                aria-label={`select face in ${face.asset?.title ?? "an asset"} at ${formatTime(face.startS)}`}
                checked={faces.has(face.id)}
                onChange={(e) => {
                  const next = new Set(faces);
                  if (e.target.checked) next.add(face.id);
                  else next.delete(face.id);
                  setFaces(next);
                }}
              />
            )}
            {face.asset ? (
              <Link to={`/asset/${encodeURIComponent(face.asset.id)}${face.startS ? `?t=${face.startS.toFixed(2)}` : ""}`} title={face.asset.title}>
                <Thumb url={face.cropUrl} alt={`${label(person)} in ${face.asset.title}`} />
              </Link>
            ) : (
              <Thumb url={face.cropUrl} alt="" />
            )}
          </li>
        ))}
      </ul>
      {canWrite && faces.size > 0 && (
        <p className="inline-form">
          Move {faces.size} face(s) to{" "}
          <select value={target} onChange={(e) => setTarget(e.target.value)}>
            <option value="">a new person</option>
            {people
              .filter((p) => p.id !== person.id)
              .map((p) => (
                <option key={p.id} value={p.id}>
                  {label(p)}
                </option>
              ))}
          </select>{" "}
          <button type="button" onClick={() => void move()}>
            Move
          </button>
        </p>
      )}
      <ErrorBox error={error} />
    </li>
  );
}

export function PeoplePage() {
  const query = useQuery(ExplorerPeopleDocument, { first: 50 });
  const { canWrite } = useSession();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [into, setInto] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const people = query.data?.people.edges.map((e) => e.node) ?? [];
  const chosen = people.filter((p) => selected.has(p.id));
  const target = chosen.some((p) => p.id === into) ? into : (chosen[0]?.id ?? "");
  const merge = async () => {
    try {
      const refused = userError((await request(ExplorerMergePeopleDocument, { into: target, ids: [...selected].filter((id) => id !== target) })).mergePeople);
      setError(refused);
      if (!refused) {
        setSelected(new Set());
        query.reload();
      }
    } catch (err) {
      setError(toApiError(err));
    }
  };
  return (
    <main className="page people">
      <h1>People</h1>
      <p className="hint">Faces found in the assets, grouped by person. Name a person, merge two that are one, or move faces that were put in the wrong group.</p>
      <ErrorBox error={query.error ?? error} />
      {canWrite && selected.size >= 2 && (
        <p className="inline-form">
          Merge {selected.size} people into{" "}
          <select value={target} onChange={(e) => setInto(e.target.value)}>
            {chosen.map((p) => (
                <option key={p.id} value={p.id}>
                  {label(p)}
                </option>
              ))}
          </select>{" "}
          <button type="button" onClick={() => void merge()}>
            Merge
          </button>
        </p>
      )}
      {query.loading && !query.data ? (
        <Loading what="Loading people" />
      ) : people.length === 0 ? (
        <Empty>No faces found yet.</Empty>
      ) : (
        <ul className="people-list">
          {people.map((person) => (
            <PersonCard
              key={person.id + (person.name ?? "")}
              person={person}
              people={people}
              selected={selected.has(person.id)}
              onSelect={(on) => {
                const next = new Set(selected);
                if (on) next.add(person.id);
                else next.delete(person.id);
                setSelected(next);
              }}
              onChanged={query.reload}
            />
          ))}
        </ul>
      )}
    </main>
  );
}
