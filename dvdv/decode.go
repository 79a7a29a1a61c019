package dvdv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Response decoding. Every answer of the directory passes through one of the
// decode* functions below; they are strict about the shape that matters
// (object vs. array, types of known fields) and tolerant about what does not
// (unknown fields, nulls), and they never panic on any input (FuzzDecode).
// Where the API description and its own examples disagree, both forms are
// accepted and the choice is noted at the function.

// decodeError says what was wrong with a response body and where.
type decodeError struct {
	what string // e.g. "service description"
	err  error
}

func (e *decodeError) Error() string { return "malformed " + e.what + ": " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

func malformed(what string, err error) error {
	return &decodeError{what: what, err: describeJSONError(err)}
}

// describeJSONError names the field and byte offset of a JSON error, which
// encoding/json keeps in different places per error type.
func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "top level"
		}
		return fmt.Errorf("field %s: got JSON %s, want %s (byte %d)", field, typ.Value, typ.Type, typ.Offset)
	}
	return err
}

// unmarshal decodes exactly one JSON value into v.
func unmarshal(what string, data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return &decodeError{what: what, err: errors.New("empty body")}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return malformed(what, err)
	}
	return nil
}

// isNull reports whether a raw JSON value is null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// firstByte returns the first non-space byte of a JSON value.
func firstByte(raw []byte) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func wantObject(what string, raw []byte) error {
	if firstByte(raw) != '{' {
		return &decodeError{what: what, err: fmt.Errorf("want a JSON object, got %s", clip(string(bytes.TrimSpace(raw)), 40))}
	}
	return nil
}

func wantArray(what string, raw []byte) error {
	if firstByte(raw) != '[' {
		return &decodeError{what: what, err: fmt.Errorf("want a JSON array, got %s", clip(string(bytes.TrimSpace(raw)), 40))}
	}
	return nil
}

// decodeService decodes findservicedescription (schema Service).
func decodeService(data []byte) (*Service, error) {
	const what = "service description"
	if err := wantObject(what, data); err != nil {
		return nil, err
	}
	var s Service
	if err := unmarshal(what, data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeServiceBatch decodes batch/findservicedescription: one Service or
// null (not found) per request, in request order.
func decodeServiceBatch(data []byte) ([]*Service, error) {
	const what = "batch service descriptions"
	var raws []json.RawMessage
	if err := decodeArray(what, data, &raws); err != nil {
		return nil, err
	}
	out := make([]*Service, len(raws))
	for i, raw := range raws {
		if isNull(raw) {
			continue
		}
		s, err := decodeService(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", what, i, err)
		}
		out[i] = s
	}
	return out, nil
}

// decodeOrgDescription decodes findauthoritydescription.
func decodeOrgDescription(data []byte) (*OrganizationDescription, error) {
	const what = "organisation description"
	if err := wantObject(what, data); err != nil {
		return nil, err
	}
	var d OrganizationDescription
	if err := unmarshal(what, data, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// decodeOrgDescriptions decodes findauthoritydescriptions (an array).
func decodeOrgDescriptions(data []byte) ([]OrganizationDescription, error) {
	var out []OrganizationDescription
	if err := decodeArray("organisation descriptions", data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeOrgDescriptionBatch decodes batch/findauthoritydescription: one
// description or null per request (fixture batchFindAuthorityDescription.json;
// the schema in the API description wrongly shows a single object).
func decodeOrgDescriptionBatch(data []byte) ([]*OrganizationDescription, error) {
	const what = "batch organisation descriptions"
	var raws []json.RawMessage
	if err := decodeArray(what, data, &raws); err != nil {
		return nil, err
	}
	out := make([]*OrganizationDescription, len(raws))
	for i, raw := range raws {
		if isNull(raw) {
			continue
		}
		d, err := decodeOrgDescription(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", what, i, err)
		}
		out[i] = d
	}
	return out, nil
}

// decodeStrings decodes an array of strings (findcategories).
func decodeStrings(what string, data []byte) ([]string, error) {
	var out []string
	if err := decodeArray(what, data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeStringsBatch decodes an array of string arrays (batch/findcategories);
// null entries become empty lists.
func decodeStringsBatch(what string, data []byte) ([][]string, error) {
	var out [][]string
	if err := decodeArray(what, data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeVerification decodes verifycategory ({"verifyCategory": bool}). The
// field is required by the schema; its absence is an error, not false.
func decodeVerification(data []byte) (bool, error) {
	const what = "category verification"
	if err := wantObject(what, data); err != nil {
		return false, err
	}
	var v struct {
		VerifyCategory *bool `json:"verifyCategory"`
	}
	if err := unmarshal(what, data, &v); err != nil {
		return false, err
	}
	if v.VerifyCategory == nil {
		return false, &decodeError{what: what, err: errors.New("field verifyCategory missing")}
	}
	return *v.VerifyCategory, nil
}

// decodeVerificationBatch decodes batch/verifycategory.
func decodeVerificationBatch(data []byte) ([]bool, error) {
	const what = "batch category verifications"
	var raws []json.RawMessage
	if err := decodeArray(what, data, &raws); err != nil {
		return nil, err
	}
	out := make([]bool, len(raws))
	for i, raw := range raws {
		v, err := decodeVerification(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", what, i, err)
		}
		out[i] = v
	}
	return out, nil
}

// decodeCertificate decodes findCertificateByFingerprint.
func decodeCertificate(data []byte) (*Certificate, error) {
	const what = "certificate"
	if err := wantObject(what, data); err != nil {
		return nil, err
	}
	var c Certificate
	if err := unmarshal(what, data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// decodeOrganizations decodes findOrganizationsByServiceElement. The API
// description names the schema OrganizationDescription, while the batch
// fixture shows a list of lightweight organisations per request; both are
// accepted (a description yields its organisation).
func decodeOrganizations(data []byte) ([]Organization, error) {
	const what = "organisations"
	switch firstByte(data) {
	case '{':
		d, err := decodeOrgDescription(data)
		if err != nil {
			return nil, err
		}
		return []Organization{d.Organization}, nil
	case '[':
		var out []Organization
		if err := unmarshal(what, data, &out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, &decodeError{what: what, err: fmt.Errorf("want a JSON array or object, got %s", clip(string(bytes.TrimSpace(data)), 40))}
}

// decodeOrganizationsBatch decodes batch/findOrganizationsByServiceElement.
func decodeOrganizationsBatch(data []byte) ([][]Organization, error) {
	const what = "batch organisations"
	var raws []json.RawMessage
	if err := decodeArray(what, data, &raws); err != nil {
		return nil, err
	}
	out := make([][]Organization, len(raws))
	for i, raw := range raws {
		if isNull(raw) {
			continue
		}
		orgs, err := decodeOrganizations(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", what, i, err)
		}
		out[i] = orgs
	}
	return out, nil
}

// decodeURIs decodes findServiceSpecificationUrisByCategory. The schema says
// an array of ServiceBase, the fixture findUrisByCategory_Aufnahmeeinrichtung
// an array of strings; both are accepted.
func decodeURIs(data []byte) ([]string, error) {
	const what = "service specification URIs"
	var raws []json.RawMessage
	if err := decodeArray(what, data, &raws); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(raws))
	for i, raw := range raws {
		switch firstByte(raw) {
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("%s: entry %d: %w", what, i, malformed(what, err))
			}
			out = append(out, s)
		case '{':
			var sb ServiceBase
			if err := json.Unmarshal(raw, &sb); err != nil {
				return nil, fmt.Errorf("%s: entry %d: %w", what, i, malformed(what, err))
			}
			if sb.ServiceSpecificationURI == "" {
				return nil, &decodeError{what: what, err: fmt.Errorf("entry %d has no serviceSpecificationUri", i)}
			}
			out = append(out, sb.ServiceSpecificationURI)
		default:
			return nil, &decodeError{what: what, err: fmt.Errorf("entry %d: want a string or object, got %s", i, clip(string(raw), 40))}
		}
	}
	return out, nil
}

// decodeURIsBatch decodes batch/findServiceSpecificationUrisByCategory (the
// fixture: one list per request; the schema's "Request" is an error in the
// API description).
func decodeURIsBatch(data []byte) ([][]string, error) {
	const what = "batch service specification URIs"
	var raws []json.RawMessage
	if err := decodeArray(what, data, &raws); err != nil {
		return nil, err
	}
	out := make([][]string, len(raws))
	for i, raw := range raws {
		if isNull(raw) {
			continue
		}
		uris, err := decodeURIs(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", what, i, err)
		}
		out[i] = uris
	}
	return out, nil
}

// decodeCategories decodes the category tree. Every node needs a name.
func decodeCategories(data []byte) ([]Category, error) {
	const what = "category tree"
	var out []Category
	if err := decodeArray(what, data, &out); err != nil {
		return nil, err
	}
	var check func(path string, cs []Category, depth int) error
	check = func(path string, cs []Category, depth int) error {
		for i, c := range cs {
			p := fmt.Sprintf("%s[%d]", path, i)
			if c.Name == "" {
				return &decodeError{what: what, err: fmt.Errorf("%s has no name", p)}
			}
			if err := check(p+".children", c.Children, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check("categories", out, 1); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeIntermediaries decodes the intermediaries query.
func decodeIntermediaries(data []byte) ([]IntermediarySummary, error) {
	var out []IntermediarySummary
	if err := decodeArray("intermediaries", data, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// decodeVersion decodes the version query. The API description says "type
// string" and "returns JSON with keys version, buildnunmber, schemaversion";
// accepted are an object (keys in either spelling, values strings or
// numbers), a JSON string holding such an object, and a plain string.
func decodeVersion(data []byte) (*ServerVersion, error) {
	const what = "server version"
	switch firstByte(data) {
	case '"':
		var s string
		if err := unmarshal(what, data, &s); err != nil {
			return nil, err
		}
		if firstByte([]byte(s)) == '{' {
			return decodeVersion([]byte(s))
		}
		return &ServerVersion{Version: s}, nil
	case '{':
		var m map[string]json.RawMessage
		if err := unmarshal(what, data, &m); err != nil {
			return nil, err
		}
		v := &ServerVersion{}
		for key, dst := range map[string]*string{
			"version": &v.Version, "buildnumber": &v.BuildNumber, "buildnunmber": &v.BuildNumber,
			"buildNumber": &v.BuildNumber, "schemaversion": &v.SchemaVersion, "schemaVersion": &v.SchemaVersion,
		} {
			raw, ok := m[key]
			if !ok || isNull(raw) {
				continue
			}
			s, err := scalarString(raw)
			if err != nil {
				return nil, &decodeError{what: what, err: fmt.Errorf("field %s: %v", key, err)}
			}
			*dst = s
		}
		if v.Version == "" {
			return nil, &decodeError{what: what, err: errors.New("field version missing")}
		}
		return v, nil
	}
	return nil, &decodeError{what: what, err: fmt.Errorf("want a JSON object or string, got %s", clip(string(bytes.TrimSpace(data)), 40))}
}

func scalarString(raw json.RawMessage) (string, error) {
	switch firstByte(raw) {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf("want a string or number, got %s", clip(string(raw), 40))
		}
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			return "", err
		}
		return string(n), nil
	}
}

// decodeProblem decodes an application/problem+json body. A body that is not
// a problem object yields nil.
func decodeProblem(data []byte) *Problem {
	if firstByte(data) != '{' {
		return nil
	}
	var p Problem
	if err := json.Unmarshal(bytes.TrimSpace(data), &p); err != nil {
		return nil
	}
	if p == (Problem{}) {
		return nil
	}
	p.Title = clip(p.Title, 500)
	p.Detail = clip(p.Detail, 2000)
	return &p
}

// decodeToken decodes the token endpoint's answer (AccessToken), accepting
// the snake-case names of the schema and fixture and the camel-case names of
// the examples.
func decodeToken(data []byte) (*AccessToken, error) {
	const what = "access token"
	if err := wantObject(what, data); err != nil {
		return nil, err
	}
	var t struct {
		AccessToken
		AccessTokenCamel string `json:"accessToken"`
		ExpiresInCamel   *int64 `json:"expiresIn"`
		TokenTypeCamel   string `json:"tokenType"`
	}
	if err := unmarshal(what, data, &t); err != nil {
		return nil, err
	}
	tok := t.AccessToken
	if tok.AccessToken == "" {
		tok.AccessToken = t.AccessTokenCamel
	}
	if tok.ExpiresIn == 0 && t.ExpiresInCamel != nil {
		tok.ExpiresIn = *t.ExpiresInCamel
	}
	if tok.TokenType == "" {
		tok.TokenType = t.TokenTypeCamel
	}
	if tok.AccessToken == "" {
		return nil, &decodeError{what: what, err: errors.New("field access_token missing")}
	}
	for i := 0; i < len(tok.AccessToken); i++ {
		// The token goes into an HTTP header; refuse anything that could
		// split or corrupt it.
		if c := tok.AccessToken[i]; c <= ' ' || c >= 0x7f {
			return nil, &decodeError{what: what, err: fmt.Errorf("access_token contains a non-printable byte at position %d", i)}
		}
	}
	if tok.ExpiresIn <= 0 {
		return nil, &decodeError{what: what, err: fmt.Errorf("expires_in is %d, want a positive number of seconds", tok.ExpiresIn)}
	}
	return &tok, nil
}

// decodeArray decodes a JSON array into v, rejecting other top-level values.
func decodeArray(what string, data []byte, v any) error {
	if err := wantArray(what, data); err != nil {
		return err
	}
	return unmarshal(what, data, v)
}
