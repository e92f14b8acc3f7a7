import { lazy, Suspense, useEffect, useState, type FormEvent } from "react";
import { NavLink, Route, Routes } from "react-router-dom";
import { ErrorBox, Loading } from "./components/ui";
import { apiKey, forgetKey, lastRefusal, onKeyChange, setKey } from "./lib/auth";
import { ApiError } from "./lib/api";
import { SessionProvider, useSession } from "./lib/session";
import { AssetPage } from "./pages/AssetPage";
import { DuplicatesPage } from "./pages/DuplicatesPage";
import { LibraryPage } from "./pages/LibraryPage";
import { OperationsPage } from "./pages/OperationsPage";
import { PeoplePage } from "./pages/PeoplePage";
import { SearchPage } from "./pages/SearchPage";

// Cytoscape is the largest dependency: loaded only when the relations page opens.
const RelationsPage = lazy(() => import("./pages/RelationsPage"));

function KeyPrompt() {
  const [value, setValue] = useState("");
  const refused = lastRefusal();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (value.trim()) setKey(value);
  };
  return (
    <main className="page key-prompt">
      <h1>mediakg explorer</h1>
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input id="api-key" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} autoFocus />
        <button type="submit">Open</button>
      </form>
      {refused && <ErrorBox error={new ApiError(refused.message, refused.code)} />}
      <p className="hint">
        Open the link <code>mediakg serve</code> prints, or paste a key (<code>mediakg keys create</code>). It is kept
        for this tab only.
      </p>
    </main>
  );
}

function Shell() {
  const { known, canWrite, isAdmin } = useSession();
  const links: [string, string][] = [
    ["/", "Library"],
    ["/search", "Search"],
    ["/people", "People"],
    ["/duplicates", "Duplicates"],
    ["/relations", "Relations"],
    ["/operations", "Operations"],
  ];
  return (
    <>
      <header className="topbar">
        <a className="skip" href="#content">
          Skip to content
        </a>
        <span className="brand">mediakg</span>
        <nav aria-label="Pages">
          {links.map(([to, label]) => (
            <NavLink key={to} to={to} end={to === "/"}>
              {label}
            </NavLink>
          ))}
        </nav>
        <span className="who">
          {!known ? null : isAdmin ? "admin" : canWrite ? "editor" : <span className="badge readonly">read-only</span>}
          <button type="button" className="link" onClick={() => forgetKey()}>
            Sign out
          </button>
        </span>
      </header>
      <div id="content">
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route path="/" element={<LibraryPage />} />
            <Route path="/asset/:id" element={<AssetPage />} />
            <Route path="/search" element={<SearchPage />} />
            <Route path="/people" element={<PeoplePage />} />
            <Route path="/duplicates" element={<DuplicatesPage />} />
            <Route path="/relations" element={<RelationsPage />} />
            <Route path="/relations/:id" element={<RelationsPage />} />
            <Route path="/operations" element={<OperationsPage />} />
            <Route path="*" element={<main className="page"><h1>Not found</h1></main>} />
          </Routes>
        </Suspense>
      </div>
    </>
  );
}

export function App() {
  const [key, setKeyState] = useState(apiKey());
  useEffect(() => onKeyChange(() => setKeyState(apiKey())), []);
  if (!key) return <KeyPrompt />;
  return (
    <SessionProvider apiKey={key}>
      <Shell />
    </SessionProvider>
  );
}
