package samples

import (
	x "github.com/xagw/xagw/xauslaender/v2611"
	"github.com/xagw/xagw/xauslaender/xsd"
)

func init() {
	reply := func(name, code, title string, f func() xsd.Message) {
		register(Sample{Name: name, Code: code, Title: title, Direction: "ABH→EV", reply: true, content: f})
	}
	toABH := func(name, code, title string, f func() xsd.Message) {
		register(Sample{Name: name, Code: code, Title: title, Direction: "EV→ABH", content: f})
	}

	reply("rueckkanal-frage", x.CodeOZGRueckkanalFrage130102, "Rückfrage der Ausländerbehörde mit Frist und Anlage", func() xsd.Message {
		m := &x.OZGRueckkanalFrage130102{}
		m.Frage = "Bitte reichen Sie eine Kopie des unterschriebenen Arbeitsvertrags (alle Seiten) und eine aktuelle Meldebescheinigung nach."
		m.Fristdatum = xsd.Ptr(xsd.Date("2026-03-23"))
		m.Anlage = xsd.Ptr(dokument(pdf("Anforderung von Unterlagen (Muster)", []string{"Aktenzeichen: 12.3-000451", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF))
		return m
	})
	toABH("rueckkanal-antwort", x.CodeOZGRueckkanalAntwort130103, "Antwort auf die Rückfrage; ein großes Dokument wird als Referenz (separates Dokumentenpaket) geliefert", func() xsd.Message {
		m := &x.OZGRueckkanalAntwort130103{}
		m.Antragsidentifikation = AntragsID
		m.RueckkanalVorhanden = true
		m.AusloeserUUID = UUID("rueckkanal-frage")
		m.Unterlage = []x.OZGDokumentOderReferenz{
			inline(pdf("Meldebescheinigung (Muster)", []string{"Arjun Mustermann, Musterstraße 12, 73430 Aalen", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF, "Meldebescheinigung.pdf"),
			referenz(arbeitsvertragUUID, formatPDF, "Arbeitsvertrag-vollstaendig.pdf"),
		}
		m.Antworttext = xsd.Ptr("Anbei die Meldebescheinigung. Der vollständige Arbeitsvertrag folgt als separates Dokumentenpaket.")
		m.AngabenDokumentenlieferung = lieferung(ReferencedDocuments("rueckkanal-antwort"))
		return m
	})
	reply("statusmeldung", x.CodeOZGStatusmeldung130104, "Statusmeldung: Anliegen ist bei der Ausländerbehörde eingegangen", func() xsd.Message {
		m := &x.OZGStatusmeldung130104{}
		m.Status = x.CodeOZGStatus{Code: "01"}
		return m
	})
	reply("terminmitteilung", x.CodeOZGTerminmitteilung130105, "Terminmitteilung mit strukturierten Termininformationen", func() xsd.Message {
		m := &x.OZGTerminmitteilung130105{}
		m.StrukturierteTermininformationen = &x.OZGTerminmitteilung130105StrukturierteTermininformationen{
			Datum:                "2026-03-16",
			UhrzeitAb:            "09:30:00",
			UhrzeitBis:           xsd.Ptr(xsd.Time("10:00:00")),
			Ort:                  gebaeude("Musterplatz", "1", "73430", "Aalen"),
			WeitereAngabenZumOrt: xsd.Ptr("Erdgeschoss, Zimmer 0.14"),
		}
		m.WeitereHinweise = xsd.Ptr("Bitte bringen Sie Ihren Reisepass und ein biometrisches Lichtbild mit. Die Gebühr beträgt 100 Euro.")
		return m
	})
	reply("ruecknahme-reaktion", x.CodeOZGRuecknahmeReaktion130107, "Bestätigung der Rücknahme durch die Ausländerbehörde", func() xsd.Message {
		m := &x.OZGRuecknahmeReaktion130107{}
		m.Rueckmeldung = xsd.Ptr("Ihre Rücknahme des Antrags vom 01.03.2026 ist eingegangen. Das Verfahren wurde eingestellt.")
		return m
	})
	reply("unzustaendig", x.CodeOZGUnzustaendig130109, "Mitteilung der Unzuständigkeit mit Hinweis auf die zuständige Behörde", func() xsd.Message {
		m := &x.OZGUnzustaendig130109{}
		m.Hinweis = "Ihr Anliegen kann von uns nicht bearbeitet werden, weil wir nicht zuständig sind. Bitte wenden Sie sich an die für Sie zuständige Ausländerbehörde."
		m.ZustaendigeABH = xsd.Ptr("Ausländerbehörde des Landratsamts Ostalbkreis")
		return m
	})
	reply("beabsichtigte-ablehnung", x.CodeOZGBeabsichtigteAblehnung130110, "Anhörung zur beabsichtigten Ablehnung mit Gebührenmitteilung", func() xsd.Message {
		m := &x.OZGBeabsichtigteAblehnung130110{}
		m.Mitteilung = dokument(pdf("Anhörung zur beabsichtigten Ablehnung (Muster)", []string{"Sie erhalten Gelegenheit zur Stellungnahme bis 30.03.2026.", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF)
		m.Gebuehrenmitteilung = xsd.Ptr(dokument(pdf("Gebührenmitteilung (Muster)", []string{"Gebühr: 100 Euro", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF))
		return m
	})
	toABH("ruecknahme", x.CodeOZGRuecknahme130111, "Rücknahme des Antrags (nur Nachrichtenrahmen)", func() xsd.Message {
		m := &x.OZGRuecknahme130111{}
		m.Antragsidentifikation = AntragsID
		m.RueckkanalVorhanden = true
		return m
	})
	toABH("verpflichtungserklaerung", x.CodeOZGVerpflichtungserklaerung130201, "Verpflichtungserklärung einer Privatperson für einen Besuch (Schengen-Visum)", func() xsd.Message {
		return verpflichtung()
	})
	toABH("freizuegigkeit", x.CodeOZGFreizuegigkeit130301, "Antrag auf Aufenthaltskarte für eine drittstaatsangehörige Familienangehörige einer Unionsbürgerin", func() xsd.Message {
		return freizuegigkeit()
	})
	toABH("fachkraefte", x.CodeOZGFachkraefte130401, "Antrag des Arbeitgebers im beschleunigten Fachkräfteverfahren (§ 81a AufenthG)", func() xsd.Message {
		return fachkraefte()
	})
	reply("beendigung", x.CodeOZGBeendigung130402, "Beendigung des beschleunigten Fachkräfteverfahrens", func() xsd.Message {
		m := &x.OZGBeendigung130402{}
		m.Anlass = x.CodeOZGAnlassBeendigung{Code: "02"}
		m.Anhang = []x.OZGDokument{dokument(pdf("Beendigung des Verfahrens (Muster)", []string{"Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF)}
		return m
	})
	reply("vereinbarung", x.CodeOZGVereinbarung130403, "Vereinbarung nach § 81a AufenthG zur Unterschrift durch den Arbeitgeber", func() xsd.Message {
		m := &x.OZGVereinbarung130403{}
		m.Vereinbarung = dokument(pdf("Vereinbarung nach § 81a AufenthG (Muster)", []string{"zwischen der Ausländerbehörde und der Muster Maschinenbau GmbH", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF)
		m.Mitteilung = xsd.Ptr("Bitte senden Sie die Vereinbarung unterschrieben zurück.")
		return m
	})
	toABH("rueckmeldung-vereinbarung", x.CodeOZGRueckmeldungVereinbarung130404, "Vom Arbeitgeber unterschriebene Vereinbarung", func() xsd.Message {
		m := &x.OZGRueckmeldungVereinbarung130404{}
		m.Antragsidentifikation = AntragsID
		m.RueckkanalVorhanden = true
		m.AusloeserUUID = UUID("vereinbarung")
		m.Vereinbarung = dokument(pdf("Vereinbarung nach § 81a AufenthG, unterschrieben (Muster)", []string{"Unterschrift des Arbeitgebers: Max Mustermann, 04.03.2026", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF)
		return m
	})
	reply("bescheid-anerkennungsstelle", x.CodeOZGBescheidAnerkennungsstelle130405, "Weiterleitung des Bescheids der Anerkennungsstelle", func() xsd.Message {
		m := &x.OZGBescheidAnerkennungsstelle130405{}
		m.Bescheid = dokument(pdf("Bescheid über die Gleichwertigkeit (Muster)", []string{"Die Berufsqualifikation ist gleichwertig.", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF)
		m.Empfangsbestaetigung = dokument(pdf("Empfangsbestätigung (Vordruck, Muster)", []string{"Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF)
		return m
	})
	toABH("bescheid-empfangsbestaetigung", x.CodeOZGBescheidEmpfangsbestaetigung130406, "Empfangsbestätigung des Arbeitgebers für den Anerkennungsbescheid", func() xsd.Message {
		m := &x.OZGBescheidEmpfangsbestaetigung130406{}
		m.Antragsidentifikation = AntragsID
		m.RueckkanalVorhanden = true
		m.AusloeserUUID = UUID("bescheid-anerkennungsstelle")
		m.Empfangsbestaetigung = dokument(pdf("Empfangsbestätigung (Muster)", []string{"Erhalten am 05.03.2026", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF)
		return m
	})
	reply("vorabzustimmung", x.CodeOZGVorabzustimmung130407, "Vorabzustimmung der Ausländerbehörde zur Visumerteilung", func() xsd.Message {
		m := &x.OZGVorabzustimmung130407{}
		m.Vorabzustimmung = dokument(pdf("Vorabzustimmung nach § 81a AufenthG (Muster)", []string{"Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF)
		return m
	})
}

func verpflichtung() *x.OZGVerpflichtungserklaerung130201 {
	m := &x.OZGVerpflichtungserklaerung130201{}
	m.Antragsidentifikation = "OZG-VE-2026-000078"
	m.RueckkanalVorhanden = true
	m.RechtsverbindlicheVE = xsd.Ptr(true)
	m.Gastgeber = x.OZGVerpflichtungserklaerung130201Gastgeber{Privat: &x.OZGVerpflichtungserklaerung130201GastgeberPrivat{
		Vorname:              name("Erika"),
		Familienname:         name("Mustermann"),
		Geschlecht:           geschlecht("w"),
		Staatsangehoerigkeit: []x.AngabenZumStaat{staat(staatDeutsch)},
		Anschrift:            xsd.Ptr(gebaeude("Musterstraße", "5", "73430", "Aalen")),
		Kommunikation:        []x.KommunikationType{kanal("01", "erika.mustermann@example.org")},
		DeutscheIdentifikation: &x.OZGDeutscheIdentifikation{
			ArtDesIdentifikationsdokuments:             &x.CodeOZGDeutschesIdentifikationsdokument{Code: "01"},
			NummerDesDeutschenIdentifikationsdokuments: xsd.Ptr("L01X00T47"),
			AusstellendeBehoerde:                       xsd.Ptr("Stadt Aalen"),
		},
		Beruf:       xsd.Ptr("Lehrerin"),
		Arbeitgeber: xsd.Ptr("Land Baden-Württemberg"),
		Arbeitnehmerverhaeltnis: &x.OZGVerpflichtungserklaerung130201GastgeberPrivatArbeitnehmerverhaeltnis{
			Einkuenfte: []int64{3900},
		},
		RegelmaessigeAusgaben: xsd.Ptr(int64(1450)),
	}}
	m.Gast = x.OZGVerpflichtungserklaerung130201Gast{
		AufenthaltVisum: x.OZGVerpflichtungserklaerung130201GastAufenthaltVisum{
			CVisum: &x.OZGCVisumOderVisumfrei{CVisum: x.CodeOZGCVisumVisumfrei{Code: "03"}, Zweck: xsd.Ptr("Besuch der Schwester"), Aufenthaltsdauer: xsd.Ptr(int64(30))},
		},
		VoraussichtlichesEinreisedatum: xsd.Ptr(xsd.Date("2026-06-01")),
		Familienname:                   xsd.Ptr(name("Mustermann")),
		Vorname:                        xsd.Ptr(name("Ivan")),
		Staatsangehoerigkeit:           xsd.Ptr(staat(staatUkraine)),
		Anschrift:                      x.OZGVerpflichtungserklaerung130201GastAnschrift{AnschriftWieGastgeber: xsd.Ptr(true)},
		Geburt:                         xsd.Ptr(geburt("Lwiw", staatUkraine, "1985-04-12")),
		Reisepassnummer:                xsd.Ptr("FX000001"),
		BeziehungZumGastgeber:          &x.CodeOZGBeziehungGastgeber{Code: "01"},
		Geschlecht:                     geschlecht("m"),
	}
	m.ZusammenfassungBelehrung = dokument(pdf("Verpflichtungserklärung - Zusammenfassung und Belehrung (Muster)", []string{
		"Die Gastgeberin verpflichtet sich nach §§ 66, 68 AufenthG, die Kosten für den Lebensunterhalt zu tragen.",
		"Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF)
	return m
}

func freizuegigkeit() *x.OZGFreizuegigkeit130301 {
	m := &x.OZGFreizuegigkeit130301{}
	m.Antragsidentifikation = "OZG-FZ-2026-000012"
	m.RueckkanalVorhanden = true
	m.Antragsdatum = "2026-02-25"
	m.GrundDesAntrags = x.CodeOZGAntragsgrund{Code: "01"}
	m.GrundDerMeldung = x.CodeOZGMeldungsgrund{Code: "02"} // Aufenthaltskarte
	m.AngabenZurPerson = x.OZGPerson{
		Vorname:              name("Daniel"),
		Familienname:         name("Musterowski"),
		Geschlecht:           geschlecht("m"),
		Geburt:               geburt("Kyjiw", staatUkraine, "1990-01-30"),
		Familienstand:        x.OZGPersonFamilienstand{Familienstand: x.CodeFamilienstand{Code: "VH"}},
		Staatsangehoerigkeit: []x.AngabenZumStaat{staat(staatUkraine)},
		Anschrift:            anschrift("Musterring", "8", "73430", "Aalen"),
	}
	m.Referenzperson = []x.OZGReferenzperson{{
		Vorname:              name("Agnieszka"),
		Familienname:         name("Musterowska"),
		Geburt:               geburt("Krakau", staatPolen, "1991-07-14"),
		Staatsangehoerigkeit: []x.AngabenZumStaat{staat(staatPolen)},
		FamiliaereBeziehung:  x.CodeOZGFamiliaereBeziehungReferenzperson{Code: "01"},
		Anschrift:            xsd.Ptr(gebaeude("Musterring", "8", "73430", "Aalen")),
	}}
	m.Auslandsaufenthalt = []x.OZGFreizuegigkeit130301Auslandsaufenthalt{{
		Von:   x.TeilbekanntesDatum{JahrMonat: xsd.Ptr(xsd.GYearMonth("2024-09"))},
		Bis:   x.TeilbekanntesDatum{JahrMonat: xsd.Ptr(xsd.GYearMonth("2025-02"))},
		Grund: "Berufliche Tätigkeit in Polen",
	}}
	m.Einreisedatum = "2025-03-01"
	m.Verurteilung = nil
	m.Nachweis = []x.OZGDokumentOderReferenzErweitert{
		nachweis(inline(pdf("Heiratsurkunde (Muster)", []string{"Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF, "Heiratsurkunde.pdf"), "Nachweis der Ehe"),
	}
	return m
}

func fachkraefte() *x.OZGFachkraefte130401 {
	m := &x.OZGFachkraefte130401{}
	m.Antragsidentifikation = "OZG-FK-2026-000031"
	m.RueckkanalVorhanden = true
	m.Antragsdatum = "2026-02-10"
	m.GrundDesAufenthalts81a = x.CodeOZGGrundDesAufenthalts81a{Code: "02"}
	m.Arbeitgeber = x.OZGFachkraefte130401Arbeitgeber{
		Firma:                    "Muster Maschinenbau GmbH",
		AnschriftBetriebsstaette: x.PostalischeInlandsanschrift{Gebaeude: xsd.Ptr(gebaeude("Industriestraße", "5", "73431", "Aalen"))},
		Vertreter: x.OZGFachkraefte130401ArbeitgeberVertreter{
			Vorname:       name("Max"),
			Familienname:  name("Mustermann"),
			Geschlecht:    geschlecht("m"),
			Kommunikation: []x.KommunikationType{kanal("01", "personal@maschinenbau.example.org")},
			Firma:         xsd.Ptr("Muster Maschinenbau GmbH"),
			AnlageVertreter: []x.OZGDokumentOderReferenzErweitert{
				nachweis(inline(pdf("Handelsregisterauszug (Muster)", []string{"HRB 000000, Amtsgericht Ulm", "Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF, "Handelsregisterauszug.pdf"), "Nachweis der Vertretungsbefugnis"),
			},
		},
	}
	fk := x.OZGFachkraefte130401Fachkraft{}
	fk.Vorname = name("Lakshmi")
	fk.Familienname = name("Musterwoman")
	fk.Geschlecht = geschlecht("w")
	fk.Geburt = geburt("Chennai", staatIndien, "1992-12-01")
	fk.Familienstand = x.OZGPersonFamilienstand{Familienstand: x.CodeFamilienstand{Code: "LD"}}
	fk.Staatsangehoerigkeit = []x.AngabenZumStaat{staat(staatIndien)}
	fk.Kommunikation = []x.KommunikationType{kanal("01", "lakshmi@example.org")}
	m.Fachkraft = fk
	m.Nachweis = []x.OZGDokumentOderReferenzErweitert{
		nachweis(inline(pdf("Vollmacht des Arbeitgebers (Muster)", []string{"Dieses Dokument ist ein Muster ohne rechtliche Wirkung."}), formatPDF, "Vollmacht.pdf"), "Vollmacht der Fachkraft"),
		nachweis(referenz(berufsabschlussUUID, formatPDF, "Berufsabschluss.pdf"), "Berufsabschluss mit Übersetzung"),
	}
	m.AngabenDokumentenlieferung = lieferung(ReferencedDocuments("fachkraefte"))
	return m
}
